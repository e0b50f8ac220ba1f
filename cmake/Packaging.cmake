# `make deb`: the Debian package (CPack), from a `make build` tree: the binary and lambkin-init
# in /usr/lib/lambkin (lambkin-init must sit beside the binary) with /usr/bin/lambkin linking
# to it, the built-in runtimes and the console in /usr/share/lambkin, the systemd unit, the
# default configuration in /etc/lambkin (conffiles), docs; postinst makes the `lambkin` user
# and /var/lib/lambkin.
install(TARGETS lambkin lambkin-init RUNTIME DESTINATION lib/lambkin)
file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/packaging)
file(CREATE_LINK ../lib/lambkin/lambkin ${CMAKE_BINARY_DIR}/packaging/lambkin SYMBOLIC)
install(FILES ${CMAKE_BINARY_DIR}/packaging/lambkin DESTINATION bin)
# The runtimes' OCI layouts; not the root filesystems `make build` also unpacked beside them
# (rootfs/, 800 MB): a server unpacks what it needs into its data directory at first start.
install(DIRECTORY ${LAMBKIN_RUNTIMES_DIR}/ DESTINATION share/lambkin/runtimes
  PATTERN "rootfs" EXCLUDE)
install(DIRECTORY ${LAMBKIN_CONSOLE_DIR}/ DESTINATION share/lambkin/console
  PATTERN ".*" EXCLUDE)
install(FILES packaging/lambkin.service DESTINATION lib/systemd/system)
install(FILES packaging/config.json packaging/lambkin.conf DESTINATION /etc/lambkin)
install(FILES README.md docs/operations.md docs/configuration.md docs/security.md docs/console.md
  DESTINATION share/doc/lambkin)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME lambkin)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_CONTACT "Lambkin <lambkin@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "Self-hosted AWS Lambda API with runtime management, sandboxed execution and a web console")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # lambkin_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
# The runtimes' layers are gzip already: compress fast.
set(CPACK_DEBIAN_COMPRESSION_TYPE gzip)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# What the sandbox runs besides the libraries: outbound networking, /tmp disks, the user.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, bubblewrap, slirp4netns, nftables, e2fsprogs, ca-certificates")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "postgresql-15")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  "${PROJECT_SOURCE_DIR}/packaging/postinst;${PROJECT_SOURCE_DIR}/packaging/prerm;${PROJECT_SOURCE_DIR}/packaging/postrm;${PROJECT_SOURCE_DIR}/packaging/conffiles")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
