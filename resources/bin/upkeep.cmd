@echo off
rem upkeep.cmd - command line of the packaged Upkeep app (Windows).
rem Runs Upkeep.exe as plain Node (ELECTRON_RUN_AS_NODE=1) against bin\upkeep.js, which loads
rem dist\node\src-main\cli\main.js. Those files are unpacked from app.asar (asarUnpack in
rem electron-builder.yml); their npm dependencies stay inside app.asar and are found via NODE_PATH.
rem This file is <install dir>\resources\bin\upkeep.cmd; add that folder to PATH to use "upkeep".
setlocal
set "RES=%~dp0.."
set "EXE=%RES%\..\Upkeep.exe"
if defined UPKEEP_ELECTRON set "EXE=%UPKEEP_ELECTRON%"
if not exist "%EXE%" (
  echo upkeep: cannot find Upkeep.exe next to "%RES%" 1>&2
  exit /b 127
)
set "ENTRY=%RES%\app.asar.unpacked\bin\upkeep.js"
if exist "%ENTRY%" (
  if defined NODE_PATH (set "NODE_PATH=%RES%\app.asar\node_modules;%NODE_PATH%") else (set "NODE_PATH=%RES%\app.asar\node_modules")
) else (
  set "ENTRY=%RES%\app.asar\bin\upkeep.js"
)
set ELECTRON_RUN_AS_NODE=1
"%EXE%" "%ENTRY%" %*
exit /b %ERRORLEVEL%
