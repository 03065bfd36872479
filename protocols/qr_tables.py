"""QR Code symbol tables from ISO/IEC 18004:2015, as pure data.

BLOCKS is Table 9 (error correction characteristics): for each version 1..40
(BLOCKS[version - 1]) and each error correction level in the order L, M, Q,
H, five numbers: EC codewords per block, blocks in group 1, data codewords
per group-1 block, blocks in group 2, data codewords per group-2 block
(group-2 blocks hold one data codeword more).  Entry (version, level) starts
at level_index * BLOCK_FIELDS.  One small bytes object a version: compact in
RAM, and no 800-element literal for the device's compiler or stack.

ALIGNMENT_CENTRES is Annex E (Table E.1): the row/column coordinates of the
alignment pattern centres for versions 2..40 (version 1 has none).
"""

BLOCK_FIELDS = 5

# fmt: off
BLOCKS = (
    # version 1 (26 codewords)
    bytes((7, 1, 19, 0, 0,  10, 1, 16, 0, 0,  13, 1, 13, 0, 0,  17, 1, 9, 0, 0)),
    # version 2 (44 codewords)
    bytes((10, 1, 34, 0, 0,  16, 1, 28, 0, 0,  22, 1, 22, 0, 0,  28, 1, 16, 0, 0)),
    # version 3 (70 codewords)
    bytes((15, 1, 55, 0, 0,  26, 1, 44, 0, 0,  18, 2, 17, 0, 0,  22, 2, 13, 0, 0)),
    # version 4 (100 codewords)
    bytes((20, 1, 80, 0, 0,  18, 2, 32, 0, 0,  26, 2, 24, 0, 0,  16, 4, 9, 0, 0)),
    # version 5 (134 codewords)
    bytes((26, 1, 108, 0, 0,  24, 2, 43, 0, 0,  18, 2, 15, 2, 16,  22, 2, 11, 2, 12)),
    # version 6 (172 codewords)
    bytes((18, 2, 68, 0, 0,  16, 4, 27, 0, 0,  24, 4, 19, 0, 0,  28, 4, 15, 0, 0)),
    # version 7 (196 codewords)
    bytes((20, 2, 78, 0, 0,  18, 4, 31, 0, 0,  18, 2, 14, 4, 15,  26, 4, 13, 1, 14)),
    # version 8 (242 codewords)
    bytes((24, 2, 97, 0, 0,  22, 2, 38, 2, 39,  22, 4, 18, 2, 19,  26, 4, 14, 2, 15)),
    # version 9 (292 codewords)
    bytes((30, 2, 116, 0, 0,  22, 3, 36, 2, 37,  20, 4, 16, 4, 17,  24, 4, 12, 4, 13)),
    # version 10 (346 codewords)
    bytes((18, 2, 68, 2, 69,  26, 4, 43, 1, 44,  24, 6, 19, 2, 20,  28, 6, 15, 2, 16)),
    # version 11 (404 codewords)
    bytes((20, 4, 81, 0, 0,  30, 1, 50, 4, 51,  28, 4, 22, 4, 23,  24, 3, 12, 8, 13)),
    # version 12 (466 codewords)
    bytes((24, 2, 92, 2, 93,  22, 6, 36, 2, 37,  26, 4, 20, 6, 21,  28, 7, 14, 4, 15)),
    # version 13 (532 codewords)
    bytes((26, 4, 107, 0, 0,  22, 8, 37, 1, 38,  24, 8, 20, 4, 21,  22, 12, 11, 4, 12)),
    # version 14 (581 codewords)
    bytes((30, 3, 115, 1, 116,  24, 4, 40, 5, 41,  20, 11, 16, 5, 17,  24, 11, 12, 5, 13)),
    # version 15 (655 codewords)
    bytes((22, 5, 87, 1, 88,  24, 5, 41, 5, 42,  30, 5, 24, 7, 25,  24, 11, 12, 7, 13)),
    # version 16 (733 codewords)
    bytes((24, 5, 98, 1, 99,  28, 7, 45, 3, 46,  24, 15, 19, 2, 20,  30, 3, 15, 13, 16)),
    # version 17 (815 codewords)
    bytes((28, 1, 107, 5, 108,  28, 10, 46, 1, 47,  28, 1, 22, 15, 23,  28, 2, 14, 17, 15)),
    # version 18 (901 codewords)
    bytes((30, 5, 120, 1, 121,  26, 9, 43, 4, 44,  28, 17, 22, 1, 23,  28, 2, 14, 19, 15)),
    # version 19 (991 codewords)
    bytes((28, 3, 113, 4, 114,  26, 3, 44, 11, 45,  26, 17, 21, 4, 22,  26, 9, 13, 16, 14)),
    # version 20 (1085 codewords)
    bytes((28, 3, 107, 5, 108,  26, 3, 41, 13, 42,  30, 15, 24, 5, 25,  28, 15, 15, 10, 16)),
    # version 21 (1156 codewords)
    bytes((28, 4, 116, 4, 117,  26, 17, 42, 0, 0,  28, 17, 22, 6, 23,  30, 19, 16, 6, 17)),
    # version 22 (1258 codewords)
    bytes((28, 2, 111, 7, 112,  28, 17, 46, 0, 0,  30, 7, 24, 16, 25,  24, 34, 13, 0, 0)),
    # version 23 (1364 codewords)
    bytes((30, 4, 121, 5, 122,  28, 4, 47, 14, 48,  30, 11, 24, 14, 25,  30, 16, 15, 14, 16)),
    # version 24 (1474 codewords)
    bytes((30, 6, 117, 4, 118,  28, 6, 45, 14, 46,  30, 11, 24, 16, 25,  30, 30, 16, 2, 17)),
    # version 25 (1588 codewords)
    bytes((26, 8, 106, 4, 107,  28, 8, 47, 13, 48,  30, 7, 24, 22, 25,  30, 22, 15, 13, 16)),
    # version 26 (1706 codewords)
    bytes((28, 10, 114, 2, 115,  28, 19, 46, 4, 47,  28, 28, 22, 6, 23,  30, 33, 16, 4, 17)),
    # version 27 (1828 codewords)
    bytes((30, 8, 122, 4, 123,  28, 22, 45, 3, 46,  30, 8, 23, 26, 24,  30, 12, 15, 28, 16)),
    # version 28 (1921 codewords)
    bytes((30, 3, 117, 10, 118,  28, 3, 45, 23, 46,  30, 4, 24, 31, 25,  30, 11, 15, 31, 16)),
    # version 29 (2051 codewords)
    bytes((30, 7, 116, 7, 117,  28, 21, 45, 7, 46,  30, 1, 23, 37, 24,  30, 19, 15, 26, 16)),
    # version 30 (2185 codewords)
    bytes((30, 5, 115, 10, 116,  28, 19, 47, 10, 48,  30, 15, 24, 25, 25,  30, 23, 15, 25, 16)),
    # version 31 (2323 codewords)
    bytes((30, 13, 115, 3, 116,  28, 2, 46, 29, 47,  30, 42, 24, 1, 25,  30, 23, 15, 28, 16)),
    # version 32 (2465 codewords)
    bytes((30, 17, 115, 0, 0,  28, 10, 46, 23, 47,  30, 10, 24, 35, 25,  30, 19, 15, 35, 16)),
    # version 33 (2611 codewords)
    bytes((30, 17, 115, 1, 116,  28, 14, 46, 21, 47,  30, 29, 24, 19, 25,  30, 11, 15, 46, 16)),
    # version 34 (2761 codewords)
    bytes((30, 13, 115, 6, 116,  28, 14, 46, 23, 47,  30, 44, 24, 7, 25,  30, 59, 16, 1, 17)),
    # version 35 (2876 codewords)
    bytes((30, 12, 121, 7, 122,  28, 12, 47, 26, 48,  30, 39, 24, 14, 25,  30, 22, 15, 41, 16)),
    # version 36 (3034 codewords)
    bytes((30, 6, 121, 14, 122,  28, 6, 47, 34, 48,  30, 46, 24, 10, 25,  30, 2, 15, 64, 16)),
    # version 37 (3196 codewords)
    bytes((30, 17, 122, 4, 123,  28, 29, 46, 14, 47,  30, 49, 24, 10, 25,  30, 24, 15, 46, 16)),
    # version 38 (3362 codewords)
    bytes((30, 4, 122, 18, 123,  28, 13, 46, 32, 47,  30, 48, 24, 14, 25,  30, 42, 15, 32, 16)),
    # version 39 (3532 codewords)
    bytes((30, 20, 117, 4, 118,  28, 40, 47, 7, 48,  30, 43, 24, 22, 25,  30, 10, 15, 67, 16)),
    # version 40 (3706 codewords)
    bytes((30, 19, 118, 6, 119,  28, 18, 47, 31, 48,  30, 34, 24, 34, 25,  30, 20, 15, 61, 16)),
)

ALIGNMENT_CENTRES = (
    b"",  # version 1
    bytes((6, 18)),  # version 2
    bytes((6, 22)),  # version 3
    bytes((6, 26)),  # version 4
    bytes((6, 30)),  # version 5
    bytes((6, 34)),  # version 6
    bytes((6, 22, 38)),  # version 7
    bytes((6, 24, 42)),  # version 8
    bytes((6, 26, 46)),  # version 9
    bytes((6, 28, 50)),  # version 10
    bytes((6, 30, 54)),  # version 11
    bytes((6, 32, 58)),  # version 12
    bytes((6, 34, 62)),  # version 13
    bytes((6, 26, 46, 66)),  # version 14
    bytes((6, 26, 48, 70)),  # version 15
    bytes((6, 26, 50, 74)),  # version 16
    bytes((6, 30, 54, 78)),  # version 17
    bytes((6, 30, 56, 82)),  # version 18
    bytes((6, 30, 58, 86)),  # version 19
    bytes((6, 34, 62, 90)),  # version 20
    bytes((6, 28, 50, 72, 94)),  # version 21
    bytes((6, 26, 50, 74, 98)),  # version 22
    bytes((6, 30, 54, 78, 102)),  # version 23
    bytes((6, 28, 54, 80, 106)),  # version 24
    bytes((6, 32, 58, 84, 110)),  # version 25
    bytes((6, 30, 58, 86, 114)),  # version 26
    bytes((6, 34, 62, 90, 118)),  # version 27
    bytes((6, 26, 50, 74, 98, 122)),  # version 28
    bytes((6, 30, 54, 78, 102, 126)),  # version 29
    bytes((6, 26, 52, 78, 104, 130)),  # version 30
    bytes((6, 30, 56, 82, 108, 134)),  # version 31
    bytes((6, 34, 60, 86, 112, 138)),  # version 32
    bytes((6, 30, 58, 86, 114, 142)),  # version 33
    bytes((6, 34, 62, 90, 118, 146)),  # version 34
    bytes((6, 30, 54, 78, 102, 126, 150)),  # version 35
    bytes((6, 24, 50, 76, 102, 128, 154)),  # version 36
    bytes((6, 28, 54, 80, 106, 132, 158)),  # version 37
    bytes((6, 32, 58, 84, 110, 136, 162)),  # version 38
    bytes((6, 26, 54, 82, 110, 138, 166)),  # version 39
    bytes((6, 30, 58, 86, 114, 142, 170)),  # version 40
)
# fmt: on
