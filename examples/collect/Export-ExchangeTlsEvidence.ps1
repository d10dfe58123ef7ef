<#
.SYNOPSIS
    Collects the evidence exchange_tls reads into one zip file. Read-only.

.DESCRIPTION
    Run it in the Exchange Management Shell on the server whose outbound mail fails.
    It exports Get-ExchangeCertificate, Get-SendConnector, Get-ReceiveConnector and
    Get-Queue (as Export-Clixml and as ConvertTo-Json) and copies the recent SMTP send
    and receive protocol logs, then zips it all. It changes nothing on the server: the
    only things it writes are its own temporary folder (removed at the end) and the zip.

    Then, on any machine with Python:
        pip install exchange_tls
        exchange-tls diagnose ExchangeTlsEvidence-<server>-<time>.zip

.PARAMETER OutputPath
    Where to write the zip. Defaults to the temporary folder.

.PARAMETER Days
    How many days of protocol logs to copy (by last write time). Defaults to 2.

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

function Export-Evidence {
    param([string] $Name, [scriptblock] $Collect)
    $objects = & $Collect
    $objects | Export-Clixml -Path (Join-Path -Path $work -ChildPath "$Name.xml")
    $objects | ConvertTo-Json -Depth 3 | Set-Content -Path (Join-Path -Path $work -ChildPath "$Name.json") -Encoding UTF8
    Write-Host ('{0}: {1} objects' -f $Name, @($objects).Count)
}

try {
    Export-Evidence -Name 'get-exchangecertificate' -Collect { Get-ExchangeCertificate }
    Export-Evidence -Name 'get-sendconnector' -Collect { Get-SendConnector }
    Export-Evidence -Name 'get-receiveconnector' -Collect { Get-ReceiveConnector -Server $env:COMPUTERNAME }
    Export-Evidence -Name 'get-queue' -Collect { Get-Queue -Server $env:COMPUTERNAME }

    # Exchange 2013 and later: Get-TransportService; Exchange 2010: Get-TransportServer.
    if (Get-Command -Name Get-TransportService -ErrorAction SilentlyContinue) {
        $transport = Get-TransportService -Identity $env:COMPUTERNAME
    }
    else {
        $transport = Get-TransportServer -Identity $env:COMPUTERNAME
    }
    $since = (Get-Date).AddDays(-$Days)
    foreach ($folder in @($transport.SendProtocolLogPath, $transport.ReceiveProtocolLogPath)) {
        if ($folder -and (Test-Path -Path "$folder")) {
            $target = Join-Path -Path $work -ChildPath (Split-Path -Path "$folder" -Leaf)
            New-Item -ItemType Directory -Path $target | Out-Null
            Get-ChildItem -Path "$folder" -Filter '*.log' |
                Where-Object { $_.LastWriteTime -gt $since } |
                Copy-Item -Destination $target
        }
    }

    Compress-Archive -Path (Join-Path -Path $work -ChildPath '*') -DestinationPath $OutputPath
    Write-Host "Evidence written to $OutputPath"
    Write-Host "Read it with: exchange-tls diagnose `"$OutputPath`""
}
finally {
    # Only the temporary folder this script made.
    Remove-Item -Path $work -Recurse -Force -ErrorAction SilentlyContinue
}
