include(CMakePackageConfigHelpers)
install(TARGETS alphax_cblas EXPORT alphaxTargets)
install(EXPORT alphaxTargets NAMESPACE alphax:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/alphax)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/alphaxConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/alphaxConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/alphax)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/alphaxConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/alphaxConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/alphaxConfigVersion.cmake
              ${CMAKE_CURRENT_LIST_DIR}/FindCUDNN.cmake ${CMAKE_CURRENT_LIST_DIR}/FindNCCL.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/alphax)
