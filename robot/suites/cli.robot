*** Settings ***
Documentation     The payterm command-line contract (docs/cli.md): JSON on stdout,
...               messages on stderr, exit 2 on bad input.
Resource          ../resources/payterm.resource


*** Variables ***
# EMVCo QRCPS-MPM v1.1 sample payload (see tests/vectors/emvqr_payloads.json).
${EMVCO_SAMPLE}    00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502016233030412340603***0708A60086670902ME91320016A0112233449988770708123456786304A13A
# GET PROCESSING OPTIONS response in format 2 (EMV Book 3, 6.5.8.4): AIP 5C00, AFL 08010100.
${GPO_FORMAT_2}    770A82025C00940408010100


*** Test Cases ***
QR Decode Shows CRC And Objects
    ${doc}=    Payterm Should Succeed    qr    decode    ${EMVCO_SAMPLE}
    Should Be True    $doc["crc_ok"]

QR Decode Rejects A Wrong CRC
    ${bad}=    Evaluate    $EMVCO_SAMPLE[:-4] + "0000"
    Payterm Should Reject    qr    decode    ${bad}

TLV Decode Names EMV Tags
    ${doc}=    Payterm Should Succeed    tlv    decode    ${GPO_FORMAT_2}
    ${text}=    Evaluate    json.dumps($doc)    modules=json
    Should Contain    ${text}    Application Interchange Profile
    Should Contain    ${text}    5C00

TLV Decode Rejects Trailing Bytes Past The Template
    Payterm Should Reject    tlv    decode    ${GPO_FORMAT_2}90

TLV Decode Rejects Truncated Input
    Payterm Should Reject    tlv    decode    9F0206000000

Unknown Hex Is Bad Input
    Payterm Should Reject    iso8583    decode    NOTHEX
