# Run after hfx_tests links (tests/CMakeLists.txt): one CTest test per
# GoogleTest suite whose cases match TEST_FILTER ("POS-NEG"), each running that
# suite's matching cases in one process. Used for the `unit` label: a process
# start (the fixtures' case lists are read before gtest filters) costs more
# than most unit cases, so per-case processes made `ctest -L unit` 5x slower.
# Inputs: TEST_EXECUTABLE TEST_FILTER TEST_NEGATIVE CTEST_FILE LABELS TIMEOUT WORKING_DIR.
execute_process(COMMAND "${TEST_EXECUTABLE}" --gtest_list_tests "--gtest_filter=${TEST_FILTER}"
                WORKING_DIRECTORY "${WORKING_DIR}" OUTPUT_VARIABLE out RESULT_VARIABLE rc TIMEOUT 60)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${TEST_EXECUTABLE} --gtest_list_tests failed (${rc}):\n${out}")
endif()
string(REPLACE ";" "" out "${out}")
string(REPLACE "\n" ";" lines "${out}")
set(script "")
foreach(line IN LISTS lines)
  if(line MATCHES "^[^ ]" AND line MATCHES "\\.( *#.*)?$")
    string(REGEX REPLACE "\\.( *#.*)?$" "" suite "${line}")
    set(filter "${suite}.*")
    if(TEST_NEGATIVE)
      string(APPEND filter "-${TEST_NEGATIVE}")
    endif()
    string(APPEND script
           "add_test([==[${suite}.*]==] [==[${TEST_EXECUTABLE}]==] [==[--gtest_filter=${filter}]==])\n"
           "set_tests_properties([==[${suite}.*]==] PROPERTIES LABELS [==[${LABELS}]==] TIMEOUT ${TIMEOUT} "
           "WORKING_DIRECTORY [==[${WORKING_DIR}]==])\n")
  endif()
endforeach()
file(WRITE "${CTEST_FILE}" "${script}")
