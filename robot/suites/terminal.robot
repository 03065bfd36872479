*** Settings ***
Documentation     The terminal app (firmware.app) on the sim board under real
...               MicroPython, started by ``payterm fw run`` with the bank behind
...               it (HSM, acquirer host on SQLite, secure element; docs/runner.md):
...               a tap and an inserted card approved online, their RESULT lines,
...               then ``payterm fw traces``: one JSON file per card transaction,
...               the PAN in none of them; a bad TRACE line is bad input.
Resource          ../resources/payterm.resource
Suite Setup       Run The Terminal


*** Variables ***
${TAP_CARD}         visa_qvsdc
${CONTACT_CARD}     contact_offline_pin
# the Visa-like card is served by the contactless Kernel 3 (qVSDC)
${TAP_KERNEL}       3
# contact_offline_pin's PIN (host_sim/cards)
${PIN}              1234
${STEPS}            [{"op": "sign_on"},
...                  {"op": "sale", "amount": 30000, "card": "tap"},
...                  {"op": "sale", "amount": 60000, "card": "insert", "pins": ["${PIN}"]},
...                  {"op": "batch_close"}]
# a trace whose APDU is lower-case hex: not what the terminal writes
${BAD_TRACE}        TRACE {"interface": "contact", "kind": "sale", "result": "approved",
...                 "stan": "000009", "apdus": [{"dir": "C", "hex": "00a4", "ms": null}], "notes": []}


*** Test Cases ***
Sign-On Answered By The Bank
    ${sign_on}=    Result Of Step    ${APP_LOG}    0
    Should Be Equal    ${sign_on}[kind]    sign_on
    Should Be Equal    ${sign_on}[code]    00

A Tap Is Approved Online
    ${tap}=    Result Of Step    ${APP_LOG}    1
    Approved Online    ${tap}    30000
    Should Be Equal As Integers    ${tap}[kernel]    ${TAP_KERNEL}
    Should Be Equal    ${tap}[outcome]    online request
    ${pan}=    Card PAN    ${TAP_CARD}
    Should Be Equal    ${tap}[pan_masked]    ************${pan}[-4:]

An Inserted Card Is Approved Online With Its Offline PIN
    ${insert}=    Result Of Step    ${APP_LOG}    2
    Approved Online    ${insert}    60000
    Should Be Equal    ${insert}[cvm_text]    PIN VERIFIED
    ${pan}=    Card PAN    ${CONTACT_CARD}
    Should Be Equal    ${insert}[pan_masked]    ************${pan}[-4:]

The Batch Closes With The Host
    ${close}=    Result Of Step    ${APP_LOG}    3
    Should Be Equal    ${close}[kind]    batch_close
    Should Be Equal    ${close}[code]    00
    ${want}=    Create List    ${2}    ${90000}    ${0}    ${0}
    Should Be Equal    ${close}[totals]    ${want}
    ${results}=    Output Lines    ${APP_LOG}    RESULT
    Length Should Be    ${results}    4
    ${done}=    Grep File    ${APP_LOG}    DONE
    Should Be Equal    ${done}    DONE

The Traces Are Exported One File Per Card Transaction
    ${dir}=    Set Variable    ${OUTPUT DIR}/terminal/traces
    Remove Directory    ${dir}    recursive=True
    ${doc}=    Payterm Should Succeed    fw    traces    ${APP_LOG}    --out    ${dir}
    Should Be Equal As Integers    ${doc}[traces]    2
    ${files}=    List Files In Directory    ${dir}    *.json
    Length Should Be    ${files}    2
    ${tap}=    Result Of Step    ${APP_LOG}    1
    ${insert}=    Result Of Step    ${APP_LOG}    2
    ${first}=    Get From List    ${doc}[transactions]    0
    ${second}=    Get From List    ${doc}[transactions]    1
    Should Be Equal    ${first}[stan]    ${tap}[stan]
    Should Be Equal    ${first}[interface]    contactless
    Should Be Equal    ${first}[result]    approved
    Should Be Equal    ${second}[stan]    ${insert}[stan]
    Should Be Equal    ${second}[interface]    contact
    FOR    ${file}    IN    @{doc}[files]
        File Should Exist    ${file}
        ${trace}=    Evaluate    json.loads(pathlib.Path($file).read_text())    modules=json,pathlib
        Should Not Be Empty    ${trace}[apdus]
    END

No File Holds A PAN In Clear
    ${dir}=    Set Variable    ${OUTPUT DIR}/terminal/traces
    FOR    ${profile}    IN    ${TAP_CARD}    ${CONTACT_CARD}
        ${pan}=    Card PAN    ${profile}
        Files Should Not Contain    ${dir}    ${pan}
        ${text}=    Get File    ${APP_LOG}
        Should Not Contain    ${text}    ${pan}    msg=the PAN in clear in the app log
    END

The PIN Is Never Written
    # the screens and results never carry it; in the trace, VERIFY's PIN block is masked
    ${text}=    Get File    ${APP_LOG}
    ${lines}=    Get Lines Not Starting With TRACE    ${text}
    Should Not Contain    ${lines}    ${PIN}
    ${traces}=    Output Lines    ${APP_LOG}    TRACE
    ${verify}=    Evaluate
    ...    [a["hex"] for t in $traces for a in t["apdus"] if a["hex"].startswith("0020")]
    Length Should Be    ${verify}    1    msg=one offline PIN VERIFY in the contact trace
    Should Match Regexp    ${verify}[0]    ^0020008008[*]{16}$

A Bad TRACE Line Is Bad Input
    ${bad}=    Set Variable    ${OUTPUT DIR}/terminal/bad-trace.log
    Copy File    ${APP_LOG}    ${bad}
    ${line}=    Evaluate    len(pathlib.Path($bad).read_text().splitlines()) + 1    modules=pathlib
    Append To File    ${bad}    ${BAD_TRACE}\n
    ${err}=    Payterm Should Reject    fw    traces    ${bad}
    Should Contain    ${err}    line ${line}: apdu 0: hex is not upper-case hex
    Create File    ${bad}    TRACE not json\n
    ${err}=    Payterm Should Reject    fw    traces    ${bad}
    Should Contain    ${err}    line 1:


*** Keywords ***
Run The Terminal
    Create Directory    ${OUTPUT DIR}/terminal
    ${session}=    Write Session    ${OUTPUT DIR}/terminal/session.json    ${STEPS}
    Set Suite Variable    ${APP_LOG}    ${OUTPUT DIR}/terminal/app.log
    Run Firmware    ${APP_LOG}    --app    firmware.app    --card    ${TAP_CARD}
    ...    --contact-card    ${CONTACT_CARD}    --timeout    90    --    ${session}

Get Lines Not Starting With TRACE
    [Arguments]    ${text}
    ${lines}=    Evaluate    "\\n".join(x for x in $text.splitlines() if not x.startswith("TRACE "))
    RETURN    ${lines}

Approved Online
    [Arguments]    ${result}    ${amount}
    Should Be Equal    ${result}[kind]    sale
    Should Be Equal    ${result}[result]    approved
    Should Be Equal    ${result}[code]    00
    Should Be Equal As Integers    ${result}[amount]    ${amount}
    Should Match Regexp    ${result}[auth_code]    ^[0-9A-Z]{6}$
    Should Not Be Equal    ${result}[auth_code]    Y1    msg=an offline approval
