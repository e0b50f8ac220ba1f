#!/usr/bin/python3
"""clang-tidy over the given sources, skipping those already found clean.

A source is clean for good once clang-tidy passed on exactly the same input: the same
preprocessed translation unit (every header it includes, read without line markers so the
clone's path does not matter), the same compile flags, the same .clang-tidy and the same
clang-tidy. Such passes are remembered as empty files named by that hash under
$LAMBKIN_TIDY_CACHE (default ~/.cache/lambkin/tidy), which outlives a clean clone the way
ccache's cache does. Any finding fails the run, exactly as a plain clang-tidy run would.

usage: tidy-cached.py BUILD_DIR JOBS FILE...
"""
import concurrent.futures
import hashlib
import json
import os
import shlex
import subprocess
import sys


def main():
    build, jobs, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cache = os.environ.get('LAMBKIN_TIDY_CACHE',
                           os.path.expanduser('~/.cache/lambkin/tidy'))
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(build, 'compile_commands.json')) as f:
        commands = {os.path.realpath(c['file']): c for c in json.load(f)}
    with open(os.path.join(root, '.clang-tidy'), 'rb') as f:
        config = f.read()
    version = subprocess.run(['clang-tidy', '--version'], capture_output=True,
                             check=True).stdout

    def key(path):
        entry = commands.get(os.path.realpath(path))
        if entry is None:
            return None
        args = shlex.split(entry['command'])
        # The compiler's argv without its output: preprocess instead.
        flags, skip = [], False
        for a in args[1:]:
            if skip:
                skip = False
                continue
            if a in ('-o', '-c'):
                skip = a == '-o'
                continue
            flags.append(a)
        pre = subprocess.run([args[0], '-E', '-P'] + flags, cwd=entry['directory'],
                             capture_output=True)
        if pre.returncode != 0:
            return None
        h = hashlib.sha256()
        for part in (version, config, os.path.relpath(path, root).encode(),
                     ' '.join(a for a in flags if not a.startswith('/')).encode(),
                     pre.stdout):
            h.update(hashlib.sha256(part).digest())
        return h.hexdigest()

    def check(path):
        k = key(path)
        if k is not None and os.path.exists(os.path.join(cache, k)):
            return path, True, '', True
        run = subprocess.run(['clang-tidy', '-p', build, '--quiet',
                              '--extra-arg=-Wno-unknown-warning-option', path],
                             capture_output=True, text=True)
        if run.returncode == 0 and k is not None:
            open(os.path.join(cache, k), 'w').close()
        out = run.stdout + (run.stderr if run.returncode != 0 else '')
        return path, run.returncode == 0, out, False

    failed, cached = 0, 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for path, ok, out, hit in pool.map(check, files):
            if out:
                sys.stdout.write(out)
            if not ok:
                failed += 1
                print(f'clang-tidy: findings in {path}', flush=True)
            elif hit:
                cached += 1
    print(f'clang-tidy: {len(files)} sources, {cached} unchanged since a clean run, '
          f'{failed} with findings')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
