*** Settings ***
Documentation     A fiscalised terminal (firmware.app on the sim board, the runner's
...               secure element signing its journal) idles on its service port
...               after the day's close (docs/app.md "Fiscal memory", docs/service.md);
...               a technician reads its status and exports the journal over the
...               port with a key from ``payterm fiscal tech-key``; the export
...               verifies with the secure element's signed trailer.
...               The tests run in order against one running terminal: the good
...               export logs the technician out, which ends the terminal's idle step.
Resource          ../resources/payterm.resource
Suite Setup       Start A Fiscalised Terminal
Suite Teardown    Terminate All Processes


*** Variables ***
${DEVICE}           PT-ROBOT-0001
# one sale and the Z report of the batch close
${RECORDS}          2
${STEPS}            [{"op": "sign_on"},
...                  {"op": "sale", "amount": 30000, "card": "tap"},
...                  {"op": "batch_close"},
...                  {"op": "service", "ms": 60000}]


*** Test Cases ***
Status Over The Service Port
    # the port answers once the app reaches its service step (after the batch close)
    ${doc}=    Wait Until Keyword Succeeds    40s    0.5s
    ...    Payterm Should Succeed    fiscal    status    --port    ${URL}    --timeout    2
    Should Be Equal    ${doc}[device_id]    ${DEVICE}
    Should Not Be True    $doc["authenticated"]
    Should Be Equal As Integers    ${doc}[seq]    ${RECORDS}
    Should Be Equal As Integers    ${doc}[z_number]    1
    Should Be Equal As Integers    ${doc}[period_records]    0
    Should Not Be True    $doc["locked"]

Another Technician's Key Is Refused
    ${out}=    Set Variable    ${WORK}/stranger.ptfx
    ${result}=    Payterm Should Fail    fiscal    export    --port    ${URL}
    ...    --key    ${WORK}/stranger.pem    --out    ${out}    --timeout    5
    ${doc}=    Evaluate    json.loads($result.stdout)    modules=json
    Should Not Be True    $doc["ok"]
    Should Contain    ${doc}[error]    AUTH_FAILED
    File Should Not Exist    ${out}

The Technician Exports The Journal
    ${doc}=    Payterm Should Succeed    fiscal    export    --port    ${URL}
    ...    --key    ${WORK}/tech.pem    --out    ${WORK}/port.ptfx    --timeout    5
    Should Be Equal    ${doc}[source]    port
    Should Be Equal    ${doc}[device_id]    ${DEVICE}
    Should Be True    $doc["signed_trailer"]

The Terminal Goes On Once The Technician Logs Out
    Firmware Should Finish    timeout=60s
    ${results}=    Output Lines    ${APP_LOG}    RESULT
    ${sale}=    Get From List    ${results}    1
    Should Be Equal    ${sale}[result]    approved
    Should Be Equal As Integers    ${sale}[fiscal_seq]    1
    ${close}=    Get From List    ${results}    2
    Should Be Equal As Integers    ${close}[z_report][seq]    ${RECORDS}
    ${served}=    Get From List    ${results}    3
    Should Be Equal    ${served}[kind]    service
    Should Be True    $served["technician"]
    Should Be True    $served["served"] >= 3

The Export Verifies With Its Signed Trailer
    ${fiscal}=    Output Lines    ${APP_LOG}    FISCAL
    Length Should Be    ${fiscal}    1
    Should Be Equal    ${fiscal}[0][device_id]    ${DEVICE}
    Create File    ${WORK}/se-public-key.hex    ${fiscal}[0][public_key]
    ${doc}=    Payterm Should Succeed    fiscal    verify    ${WORK}/port.ptfx
    ...    --pubkey    ${WORK}/se-public-key.hex
    Should Be True    $doc["valid"] and $doc["signed_trailer"]
    Should Be Equal As Integers    ${doc}[records]    ${RECORDS}
    Should Be Equal As Integers    ${doc}[z_reports]    1
    Should Be Equal    ${doc}[device_id]    ${DEVICE}


*** Keywords ***
Start A Fiscalised Terminal
    ${work}=    Set Variable    ${OUTPUT DIR}/service
    Remove Directory    ${work}    recursive=True
    Create Directory    ${work}
    Set Suite Variable    ${WORK}    ${work}
    ${tech}=    Payterm Should Succeed    fiscal    tech-key    --out    ${work}/tech.pem
    Payterm Should Succeed    fiscal    tech-key    --out    ${work}/stranger.pem
    ${session}=    Write Session    ${work}/session.json    ${STEPS}
    ...    fiscal_device=${DEVICE}    tech_key=${tech}[public_key_hex]
    Set Suite Variable    ${APP_LOG}    ${work}/app.log
    ${ready}=    Start Firmware    ${APP_LOG}    --app    firmware.app    --card    visa_qvsdc
    ...    --timeout    90    --    ${session}
    Should Be Equal    ${ready}[buses][uart0][role]    service
    Set Suite Variable    ${URL}    ${ready}[buses][uart0][connect]
