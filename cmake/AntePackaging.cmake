# Install rules and the exported package, so that find_package(antechamber) works.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(DIRECTORY include/ante DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS antechamber EXPORT antechamberTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT antechamberTargets NAMESPACE antechamber::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/antechamber)
configure_package_config_file(cmake/antechamberConfig.cmake.in
        ${PROJECT_BINARY_DIR}/antechamberConfig.cmake
        INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/antechamber)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/antechamberConfigVersion.cmake
        COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/antechamberConfig.cmake ${PROJECT_BINARY_DIR}/antechamberConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/antechamber)
