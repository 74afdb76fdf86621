package spl

// seedQuery is the T1567.001 detection from the seed content
// (shared/seed/004_ecbec7d42abb12da.txt), copied verbatim.
const seedQuery = `index=wineventlog sourcetype="XmlWinEventLog:Microsoft-Windows-Sysmon/Operational"
  ((EventCode="3"
    (DestinationHostname="github.com" OR DestinationHostname="api.github.com" OR DestinationHostname="gitlab.com" OR DestinationHostname="api.gitlab.com" OR DestinationHostname="bitbucket.org" OR DestinationHostname="api.bitbucket.org" OR DestinationHostname="dev.azure.com" OR DestinationHostname="gist.github.com" OR DestinationHostname="codeberg.org")
    (Image="*\\git.exe" OR Image="*\\curl.exe" OR Image="*\\wget.exe" OR Image="*\\python.exe" OR Image="*\\python3.exe" OR Image="*\\powershell.exe" OR Image="*\\pwsh.exe" OR Image="*\\node.exe" OR Image="*\\ruby.exe"))
  OR
  (EventCode="1"
    (Image="*\\git.exe")
    (CommandLine="*push*")
    (CommandLine="*github.com*" OR CommandLine="*gitlab.com*" OR CommandLine="*bitbucket.org*" OR CommandLine="*dev.azure.com*"))
  OR
  (EventCode="1"
    (Image="*\\curl.exe" OR Image="*\\wget.exe" OR Image="*\\python.exe" OR Image="*\\python3.exe" OR Image="*\\powershell.exe" OR Image="*\\pwsh.exe")
    (CommandLine="*api.github.com*" OR CommandLine="*api.gitlab.com*" OR CommandLine="*gist.github.com*")
    (CommandLine="*PUT*" OR CommandLine="*POST*" OR CommandLine="*contents*" OR CommandLine="*gists*" OR CommandLine="*upload*" OR CommandLine="*Invoke-RestMethod*" OR CommandLine="*requests.put*" OR CommandLine="*requests.post*")))
| eval Signal=case(
    EventCode="3", "NetworkConnectionToCodeRepo",
    EventCode="1" AND match(CommandLine, "push") AND match(CommandLine, "(github\.com|gitlab\.com|bitbucket\.org)"), "GitPushExternal",
    EventCode="1" AND match(CommandLine, "(api\.github\.com|api\.gitlab\.com|gist\.github\.com)"), "CodeRepoAPIUpload",
    1==1, "Unknown")
| eval IsCISystem=if(match(host, "(?i)(jenkins|gitlab-runner|ci[-_]|build[-_]|deploy|devops|runner|bamboo|teamcity)"), 1, 0)
| eval IsKnownIDE=if(match(ParentImage, "(?i)(code\.exe|idea64\.exe|pycharm|devenv\.exe|sourcetree|gitkraken|fork\.exe|tower\.exe)"), 1, 0)
| eval SuspicionScore=case(
    Signal="GitPushExternal" AND IsCISystem=0, 3,
    Signal="CodeRepoAPIUpload" AND IsCISystem=0, 3,
    Signal="NetworkConnectionToCodeRepo" AND IsCISystem=0 AND IsKnownIDE=0, 2,
    Signal="NetworkConnectionToCodeRepo" AND IsCISystem=0 AND IsKnownIDE=1, 1,
    1==1, 0)
| where SuspicionScore >= 2
| table _time, host, User, Image, CommandLine, ParentImage, ParentCommandLine, DestinationHostname, Signal, IsCISystem, IsKnownIDE, SuspicionScore
| sort - SuspicionScore - _time`
