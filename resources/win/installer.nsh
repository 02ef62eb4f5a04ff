; NSIS additions of the Windows installer (electron-builder nsis.include).
; Optional: put the `upkeep` command (<install dir>\resources\bin\upkeep.cmd) on the user's PATH.
; Asked in interactive installs; silent installs (/S) leave PATH alone unless /UPKEEP_PATH=1 is given.
; The entry is removed again on uninstall. PATH lives in HKCU\Environment (per user, no admin).

!include "FileFunc.nsh"
!include "StrFunc.nsh"
${StrStr}
${UnStrRep}

!macro customInstall
  StrCpy $0 "0"
  ${GetParameters} $R0
  ${GetOptions} $R0 "/UPKEEP_PATH=" $R1
  ${IfNot} ${Errors}
    StrCpy $0 $R1
  ${ElseIfNot} ${Silent}
    MessageBox MB_YESNO|MB_ICONQUESTION "Add the upkeep command line to your PATH?" IDNO +2
    StrCpy $0 "1"
  ${EndIf}
  ${If} $0 == "1"
    ReadRegStr $1 HKCU "Environment" "Path"
    ${StrStr} $2 "$1" "$INSTDIR\resources\bin"
    ${If} $2 == ""
      ${If} $1 == ""
        WriteRegExpandStr HKCU "Environment" "Path" "$INSTDIR\resources\bin"
      ${Else}
        WriteRegExpandStr HKCU "Environment" "Path" "$1;$INSTDIR\resources\bin"
      ${EndIf}
      SendMessage ${HWND_BROADCAST} ${WM_SETTINGCHANGE} 0 "STR:Environment" /TIMEOUT=5000
    ${EndIf}
  ${EndIf}
!macroend

!macro customUnInstall
  ReadRegStr $1 HKCU "Environment" "Path"
  ${UnStrRep} $2 "$1" ";$INSTDIR\resources\bin" ""
  ${UnStrRep} $2 "$2" "$INSTDIR\resources\bin;" ""
  ${UnStrRep} $2 "$2" "$INSTDIR\resources\bin" ""
  ${If} $2 != $1
    WriteRegExpandStr HKCU "Environment" "Path" "$2"
    SendMessage ${HWND_BROADCAST} ${WM_SETTINGCHANGE} 0 "STR:Environment" /TIMEOUT=5000
  ${EndIf}
!macroend
