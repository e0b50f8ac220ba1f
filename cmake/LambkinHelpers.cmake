# lambkin_library(name SOURCES... DEPS...) declares one subsystem library.
function(lambkin_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(lambkin_${name} STATIC ${ARG_SOURCES})
  target_include_directories(lambkin_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(lambkin_${name} PUBLIC ${ARG_DEPS})
endfunction()

# lambkin_test(source DEPS...) registers a GoogleTest file that sits beside the code.
function(lambkin_test source)
  if(NOT LAMBKIN_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  get_filename_component(test_name ${source} NAME_WE)
  add_executable(${test_name} ${source})
  target_link_libraries(${test_name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  add_test(NAME ${test_name} COMMAND ${test_name})
  set_tests_properties(${test_name} PROPERTIES ENVIRONMENT
    "LAMBKIN_RUNTIMES_DIR=${LAMBKIN_RUNTIMES_DIR}")
endfunction()
