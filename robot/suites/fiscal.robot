*** Settings ***
Documentation     The fiscal journal of a terminal run on the sim board, through
...               the command line (docs/fiscal.md, docs/cli.md): ``payterm demo``
...               runs firmware.app under real MicroPython with the secure element
...               signing; its export verifies, a damaged copy names the record,
...               the flash image exports to the same bytes, a receipt's QR
...               (read by zbar from the printed PNG) verifies offline.
Resource          ../resources/payterm.resource
Suite Setup       Run The Demo


*** Variables ***
# The demo's fiscal day: 3 sales and a refund approved, the Z report at the batch close.
${DEMO_RECORDS}     5
${DAMAGED_RECORD}   3


*** Test Cases ***
The Demo Export Verifies Without A Trailer
    ${doc}=    Payterm Should Succeed    fiscal    verify    ${EXPORT}
    ...    --pubkey    ${PUBKEY}    --no-trailer
    Should Be True    $doc["valid"]
    Should Be Equal As Integers    ${doc}[records]    ${DEMO_RECORDS}
    Should Be Equal As Integers    ${doc}[records]    ${DEMO}[artefacts][fiscal][records]
    Should Be Equal As Integers    ${doc}[z_reports]    1
    Should Be Equal    ${doc}[device_id]    ${DEMO}[artefacts][fiscal][device_id]
    Should Be Equal    ${doc}[first_failure]    ${None}

A Flipped Byte Names The Failing Record
    ${damaged}=    Set Variable    ${OUTPUT DIR}/fiscal/damaged.ptfx
    Copy With A Byte Flipped In Record    ${EXPORT}    ${damaged}    ${DAMAGED_RECORD}
    ${result}=    Payterm Should Fail    fiscal    verify    ${damaged}
    ...    --pubkey    ${PUBKEY}    --no-trailer
    Should Contain    ${result.stderr}    record #${DAMAGED_RECORD}
    ${doc}=    Evaluate    json.loads($result.stdout)    modules=json
    Should Not Be True    $doc["valid"]
    Should Be Equal As Integers    ${doc}[first_failure][record]    ${DAMAGED_RECORD}
    Should Be Equal    ${doc}[first_failure][code]    frame_check

The Flash Image Exports To The Demo's Export
    ${again}=    Set Variable    ${OUTPUT DIR}/fiscal/from-image.ptfx
    ${doc}=    Payterm Should Succeed    fiscal    export
    ...    --image    ${DEMO_DIR}/terminal/fiscal.img    --out    ${again}
    Should Be True    $doc["ok"] and $doc["header_ok"] and $doc["state_ok"]
    Should Not Be True    $doc["signed_trailer"]
    ${want}=    Get Binary File    ${EXPORT}
    ${got}=    Get Binary File    ${again}
    Should Be Equal    ${got}    ${want}    msg=the image's export differs from the demo's

A Receipt QR Verifies Offline
    ${sale}=    Get From List    ${DEMO}[sales]    0
    Should Be Equal    ${sale}[result]    approved
    ${qr}=    Read QR From PNG    ${sale}[receipt_png][0]
    Should Start With    ${qr}    PTF1:
    ${doc}=    Payterm Should Succeed    fiscal    verify-receipt    ${qr}    --pubkey    ${PUBKEY}
    Should Be True    $doc["valid"]
    Should Be Equal As Integers    ${doc}[seq]    1
    Should Be Equal    ${doc}[type]    sale
    Should Be Equal As Integers    ${doc}[amount]    30000
    # one character changed: still well-formed, but the signature fails
    ${last}=    Evaluate    "B" if $qr[-1] != "B" else "C"
    ${changed}=    Evaluate    $qr[:-1] + $last
    ${result}=    Payterm Should Fail    fiscal    verify-receipt    ${changed}    --pubkey    ${PUBKEY}

A Malformed QR Is Bad Input
    ${sale}=    Get From List    ${DEMO}[sales]    0
    ${qr}=    Read QR From PNG    ${sale}[receipt_png][0]
    ${cut}=    Evaluate    $qr[:40]
    Payterm Should Reject    fiscal    verify-receipt    ${cut}    --pubkey    ${PUBKEY}
    Payterm Should Reject    fiscal    verify-receipt    PTF1:!!!!    --pubkey    ${PUBKEY}
    Payterm Should Reject    fiscal    verify-receipt    NOT A FISCAL QR    --pubkey    ${PUBKEY}


*** Keywords ***
Run The Demo
    ${dir}=    Set Variable    ${OUTPUT DIR}/demo
    Remove Directory    ${dir}    recursive=True
    Create Directory    ${OUTPUT DIR}/fiscal
    ${demo}=    Payterm Should Succeed    demo    --out    ${dir}
    Should Be True    $demo["ok"]
    Set Suite Variable    ${DEMO}    ${demo}
    Set Suite Variable    ${DEMO_DIR}    ${dir}
    Set Suite Variable    ${EXPORT}    ${dir}/fiscal/journal.ptfx
    Set Suite Variable    ${PUBKEY}    ${dir}/fiscal/se-public-key.hex
