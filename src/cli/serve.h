// `lambkin serve`: assembles the store, catalogue, domain and APIs and runs the HTTP server.
#pragma once

#include <string>

namespace lambkin::cli {

struct ServeOptions {
  std::string data_dir = "lambkin-data";
  std::string listen = "127.0.0.1:9001";
  std::string config_file;   // optional JSON: {"account_id": ..., "regions": {...}}
  std::string runtimes_dir;  // built-in runtime bundles
  std::string console_dir;   // the web console's built files, served at /console/
  int threads = 2;
  std::string clock = "real";  // or "simulated": `lambkin clock advance` moves time
  std::string iam_file;        // optional IAM declaration applied at start (docs/iam.md)
  std::string auth = "sigv4";  // or "none": nothing verified, every caller the developer
  bool production = false;     // without the development user and its well-known key
  std::string network;         // "none" or "outbound"; empty: the config file's, else none
  bool registry_anonymous_pull = false;  // anyone may pull runtime images, without credentials
  // "sqlite" (the file in data_dir) or a postgres:// URI; empty: the config file's, else sqlite.
  std::string store;
  // Function URLs are served at http://<url-id>.lambda-url.<region>.<domain>:<port>/.
  std::string function_url_domain = "localhost";
  std::string advertise;      // host:port other nodes reach this one at; empty: the listen address
  int max_connections = 0;    // open connections on the listener; 0: the config's, else 16384
  int shutdown_seconds = 30;  // SIGTERM: how long in-flight requests may finish
  std::string log_format = "text";  // or "json": JSON lines, with one line per request
  std::string metrics_listen;       // HOST:PORT of the Prometheus endpoint; empty: none
};

// Runs until SIGINT/SIGTERM; returns the process exit code.
int Serve(const ServeOptions& options);

}  // namespace lambkin::cli
