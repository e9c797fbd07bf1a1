# SPDX-License-Identifier: LGPL-2.1-or-later
# Run by `cmake --install` (units/CMakeLists.txt sets ENVOL_UNITS, ENVOL_UNIT_DIR and
# ENVOL_SBINDIR): copies each unit, with ExecStart=/usr/sbin/… pointing at the sbin directory
# of this install's prefix instead (unchanged for --prefix /usr).
foreach(var ENVOL_UNIT_DIR ENVOL_SBINDIR)
    if(IS_ABSOLUTE "${${var}}")
        set(${var}_FULL "${${var}}")
    else()
        set(${var}_FULL "${CMAKE_INSTALL_PREFIX}/${${var}}")
    endif()
endforeach()
set(dest "$ENV{DESTDIR}${ENVOL_UNIT_DIR_FULL}")
file(MAKE_DIRECTORY "${dest}")
foreach(unit ${ENVOL_UNITS})
    get_filename_component(name "${unit}" NAME)
    file(READ "${unit}" text)
    string(REPLACE "ExecStart=/usr/sbin/" "ExecStart=${ENVOL_SBINDIR_FULL}/" text "${text}")
    message(STATUS "Installing: ${dest}/${name}")
    file(WRITE "${dest}/${name}" "${text}")
    list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${dest}/${name}")
endforeach()
