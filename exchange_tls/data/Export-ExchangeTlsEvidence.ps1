<#
.SYNOPSIS
    Collects the evidence exchange_tls reads into one zip file. Read-only.

.DESCRIPTION
    Run it in the Exchange Management Shell on the server whose outbound mail fails.
    It exports Get-ExchangeCertificate, Get-SendConnector, Get-ReceiveConnector,
    Get-Queue, Get-ExchangeServer and the Windows version (Win32_OperatingSystem) and,
    when the organisation is hybrid, Get-HybridConfiguration (as
    Export-Clixml and as ConvertTo-Json); the last days of MSExchangeTransport and
    MSExchangeFrontEndTransport events (Application log) and Schannel events (System
    log); the SCHANNEL and .NET Framework registry keys (reg export); and copies the
    recent SMTP send and receive protocol logs. manifest.json names the server and the
    time of collection. Then it zips it all. It changes nothing on the server: the only
    things it writes are its own temporary folder (removed at the end) and the zip.

    Then, on any machine with Python:
        pip install exchange_tls
        exchange-tls diagnose ExchangeTlsEvidence-<server>-<time>.zip

.PARAMETER OutputPath
    Where to write the zip. Defaults to the temporary folder.

.PARAMETER Days
    How many days of protocol logs (by last write time) and events to collect.
    Defaults to 2.

.EXAMPLE
    .\Export-ExchangeTlsEvidence.ps1 -Days 1
#>
[CmdletBinding()]
param(
    [string] $OutputPath = (Join-Path -Path $env:TEMP -ChildPath ('ExchangeTlsEvidence-{0}-{1:yyyyMMddHHmm}.zip' -f $env:COMPUTERNAME, (Get-Date))),
    [ValidateRange(1, 30)]
    [int] $Days = 2
)

$ErrorActionPreference = 'Stop'
$work = Join-Path -Path $env:TEMP -ChildPath ('ExchangeTlsEvidence-' + [guid]::NewGuid().ToString())
New-Item -ItemType Directory -Path $work | Out-Null

$written = [System.Collections.ArrayList]::new()

function Export-Evidence {
    param([string] $Name, [string] $Source, [scriptblock] $Collect)
    $objects = & $Collect
    if ($null -eq $objects) {
        Write-Host ('{0}: nothing to export' -f $Name)
        return
    }
    $objects | Export-Clixml -Path (Join-Path -Path $work -ChildPath "$Name.xml")
    $objects | ConvertTo-Json -Depth 3 | Set-Content -Path (Join-Path -Path $work -ChildPath "$Name.json") -Encoding UTF8
    [void] $written.Add([ordered] @{ Name = "$Name.xml"; Source = $Source })
    [void] $written.Add([ordered] @{ Name = "$Name.json"; Source = $Source })
    Write-Host ('{0}: {1} objects' -f $Name, @($objects).Count)
}

function Export-RegistryKey {
    # reg.exe export only reads the registry; it writes the .reg file (UTF-16) into the
    # script's own folder. A key that does not exist is skipped: absent means default.
    param([string] $Key, [string] $Name)
    # $Key is in reg.exe's documented form (HKLM\...); Test-Path takes the drive form.
    if (Test-Path -Path ('HKLM:\' + $Key.Substring(5))) {
        $file = Join-Path -Path $work -ChildPath "$Name.reg"
        & reg.exe export $Key $file /y | Out-Null
        [void] $written.Add([ordered] @{ Name = "$Name.reg"; Source = "reg export $Key" })
        Write-Host ('{0}: exported' -f $Name)
    }
}

try {
    $since = (Get-Date).AddDays(-$Days)
    Export-Evidence -Name 'get-exchangecertificate' -Source 'Get-ExchangeCertificate' -Collect { Get-ExchangeCertificate }
    Export-Evidence -Name 'get-sendconnector' -Source 'Get-SendConnector' -Collect { Get-SendConnector }
    Export-Evidence -Name 'get-receiveconnector' -Source 'Get-ReceiveConnector' -Collect { Get-ReceiveConnector -Server $env:COMPUTERNAME }
    Export-Evidence -Name 'get-queue' -Source 'Get-Queue' -Collect { Get-Queue -Server $env:COMPUTERNAME }
    if (Get-Command -Name Get-HybridConfiguration -ErrorAction SilentlyContinue) {
        Export-Evidence -Name 'get-hybridconfiguration' -Source 'Get-HybridConfiguration' -Collect { Get-HybridConfiguration }
    }
    # The build and the Windows version: the rules whose truth depends on them read them.
    Export-Evidence -Name 'get-exchangeserver' -Source 'Get-ExchangeServer' -Collect { Get-ExchangeServer -Identity $env:COMPUTERNAME }
    Export-Evidence -Name 'get-operatingsystem' -Source 'Get-CimInstance Win32_OperatingSystem' -Collect {
        Get-CimInstance -ClassName Win32_OperatingSystem | Select-Object -Property @('CSName', 'Caption', 'Version', 'BuildNumber')
    }

    # Get-WinEvent reports "no events were found" as an error; none found is an answer.
    Export-Evidence -Name 'events-transport' -Source 'Get-WinEvent Application MSExchangeTransport' -Collect {
        Get-WinEvent -FilterHashtable @{
            LogName      = 'Application'
            ProviderName = 'MSExchangeTransport', 'MSExchangeFrontEndTransport'
            StartTime    = $since
        } -ErrorAction SilentlyContinue
    }
    Export-Evidence -Name 'events-schannel' -Source 'Get-WinEvent System Schannel' -Collect {
        Get-WinEvent -FilterHashtable @{ LogName = 'System'; ProviderName = 'Schannel'; StartTime = $since } -ErrorAction SilentlyContinue
    }

    Export-RegistryKey -Key 'HKLM\SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL' -Name 'registry-schannel'
    foreach ($node in @('', 'Wow6432Node\')) {
        foreach ($version in @('v4.0.30319', 'v2.0.50727')) {
            $label = 'registry-dotnet-{0}{1}' -f $version, $(if ($node) { '-wow6432' } else { '' })
            Export-RegistryKey -Key ('HKLM\SOFTWARE\{0}Microsoft\.NETFramework\{1}' -f $node, $version) -Name $label
        }
    }

    # Exchange 2013 and later: Get-TransportService; Exchange 2010: Get-TransportServer.
    if (Get-Command -Name Get-TransportService -ErrorAction SilentlyContinue) {
        $transport = Get-TransportService -Identity $env:COMPUTERNAME
    }
    else {
        $transport = Get-TransportServer -Identity $env:COMPUTERNAME
    }
    foreach ($folder in @($transport.SendProtocolLogPath, $transport.ReceiveProtocolLogPath)) {
        if ($folder -and (Test-Path -Path "$folder")) {
            $target = Join-Path -Path $work -ChildPath (Split-Path -Path "$folder" -Leaf)
            New-Item -ItemType Directory -Path $target | Out-Null
            Get-ChildItem -Path "$folder" -Filter '*.log' |
                Where-Object { $_.LastWriteTime -gt $since } |
                Copy-Item -Destination $target
        }
    }

    $manifest = [ordered] @{
        ExchangeTlsEvidence = 1
        Server              = $env:COMPUTERNAME
        Fqdn                = [System.Net.Dns]::GetHostEntry([string] $env:COMPUTERNAME).HostName
        CollectedUtc        = (Get-Date).ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ')
        Days                = $Days
        Files               = $written
    }
    $manifest | ConvertTo-Json -Depth 3 | Set-Content -Path (Join-Path -Path $work -ChildPath 'manifest.json') -Encoding UTF8

    Compress-Archive -Path (Join-Path -Path $work -ChildPath '*') -DestinationPath $OutputPath
    Write-Host "Evidence written to $OutputPath"
    Write-Host "Read it with: exchange-tls diagnose `"$OutputPath`""
}
finally {
    # Only the temporary folder this script made.
    Remove-Item -Path $work -Recurse -Force -ErrorAction SilentlyContinue
}
