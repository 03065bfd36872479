"""ESC/POS code pages as data: the ESC t numbers and, for the pages the
builder can encode text into, the characters of bytes 0x80..0xFF.

Numbers: python-escpos 3.1 capability profile "default" (from
escpos-printer-db), the same numbers Epson documents for ESC t.  Character
tables: the code pages as published by their vendors (IBM/Microsoft), here
written out from the Unicode mapping files that CPython's codecs are built
from; tests/test_escpos.py checks every position against those codecs.
A space marks a byte the code page leaves undefined (never matched: text
below 0x80 is sent as ASCII).
"""

# (name, n of ESC t n), ordered by n.
CODE_PAGE_NUMBERS = (
    ("CP437", 0),
    ("CP932", 1),
    ("CP850", 2),
    ("CP860", 3),
    ("CP863", 4),
    ("CP865", 5),
    ("CP851", 11),
    ("CP853", 12),
    ("CP857", 13),
    ("CP737", 14),
    ("ISO_8859-7", 15),
    ("CP1252", 16),
    ("CP866", 17),
    ("CP852", 18),
    ("CP858", 19),
    ("CP874", 21),
    ("TCVN-3-1", 30),
    ("TCVN-3-2", 31),
    ("CP720", 32),
    ("CP775", 33),
    ("CP855", 34),
    ("CP861", 35),
    ("CP862", 36),
    ("CP864", 37),
    ("CP869", 38),
    ("ISO_8859-2", 39),
    ("ISO_8859-15", 40),
    ("CP1098", 41),
    ("CP774", 42),
    ("CP772", 43),
    ("CP1125", 44),
    ("CP1250", 45),
    ("CP1251", 46),
    ("CP1253", 47),
    ("CP1254", 48),
    ("CP1255", 49),
    ("CP1256", 50),
    ("CP1257", 51),
    ("CP1258", 52),
    ("RK1048", 53),
)

# Names Epson manuals use for some of the same pages.
CODE_PAGE_ALIASES = (
    ("PC437", "CP437"),
    ("PC850", "CP850"),
    ("PC858", "CP858"),
    ("PC864", "CP864"),
    ("WPC1252", "CP1252"),
    ("WPC1256", "CP1256"),
    ("PC720", "CP720"),
)

# (name, characters of 0x80..0xFF)
HIGH_HALVES = (
    (
        "CP437",
        (
            "\xc7\xfc\xe9\xe2\xe4\xe0\xe5\xe7"
            "\xea\xeb\xe8\xef\xee\xec\xc4\xc5"
            "\xc9\xe6\xc6\xf4\xf6\xf2\xfb\xf9"
            "\xff\xd6\xdc\xa2\xa3\xa5\u20a7\u0192"
            "\xe1\xed\xf3\xfa\xf1\xd1\xaa\xba"
            "\xbf\u2310\xac\xbd\xbc\xa1\xab\xbb"
            "\u2591\u2592\u2593\u2502\u2524\u2561\u2562\u2556"
            "\u2555\u2563\u2551\u2557\u255d\u255c\u255b\u2510"
            "\u2514\u2534\u252c\u251c\u2500\u253c\u255e\u255f"
            "\u255a\u2554\u2569\u2566\u2560\u2550\u256c\u2567"
            "\u2568\u2564\u2565\u2559\u2558\u2552\u2553\u256b"
            "\u256a\u2518\u250c\u2588\u2584\u258c\u2590\u2580"
            "\u03b1\xdf\u0393\u03c0\u03a3\u03c3\xb5\u03c4"
            "\u03a6\u0398\u03a9\u03b4\u221e\u03c6\u03b5\u2229"
            "\u2261\xb1\u2265\u2264\u2320\u2321\xf7\u2248"
            "\xb0\u2219\xb7\u221a\u207f\xb2\u25a0\xa0"
        ),
    ),
    (
        "CP850",
        (
            "\xc7\xfc\xe9\xe2\xe4\xe0\xe5\xe7"
            "\xea\xeb\xe8\xef\xee\xec\xc4\xc5"
            "\xc9\xe6\xc6\xf4\xf6\xf2\xfb\xf9"
            "\xff\xd6\xdc\xf8\xa3\xd8\xd7\u0192"
            "\xe1\xed\xf3\xfa\xf1\xd1\xaa\xba"
            "\xbf\xae\xac\xbd\xbc\xa1\xab\xbb"
            "\u2591\u2592\u2593\u2502\u2524\xc1\xc2\xc0"
            "\xa9\u2563\u2551\u2557\u255d\xa2\xa5\u2510"
            "\u2514\u2534\u252c\u251c\u2500\u253c\xe3\xc3"
            "\u255a\u2554\u2569\u2566\u2560\u2550\u256c\xa4"
            "\xf0\xd0\xca\xcb\xc8\u0131\xcd\xce"
            "\xcf\u2518\u250c\u2588\u2584\xa6\xcc\u2580"
            "\xd3\xdf\xd4\xd2\xf5\xd5\xb5\xfe"
            "\xde\xda\xdb\xd9\xfd\xdd\xaf\xb4"
            "\xad\xb1\u2017\xbe\xb6\xa7\xf7\xb8"
            "\xb0\xa8\xb7\xb9\xb3\xb2\u25a0\xa0"
        ),
    ),
    (
        "CP858",
        (
            "\xc7\xfc\xe9\xe2\xe4\xe0\xe5\xe7"
            "\xea\xeb\xe8\xef\xee\xec\xc4\xc5"
            "\xc9\xe6\xc6\xf4\xf6\xf2\xfb\xf9"
            "\xff\xd6\xdc\xf8\xa3\xd8\xd7\u0192"
            "\xe1\xed\xf3\xfa\xf1\xd1\xaa\xba"
            "\xbf\xae\xac\xbd\xbc\xa1\xab\xbb"
            "\u2591\u2592\u2593\u2502\u2524\xc1\xc2\xc0"
            "\xa9\u2563\u2551\u2557\u255d\xa2\xa5\u2510"
            "\u2514\u2534\u252c\u251c\u2500\u253c\xe3\xc3"
            "\u255a\u2554\u2569\u2566\u2560\u2550\u256c\xa4"
            "\xf0\xd0\xca\xcb\xc8\u20ac\xcd\xce"
            "\xcf\u2518\u250c\u2588\u2584\xa6\xcc\u2580"
            "\xd3\xdf\xd4\xd2\xf5\xd5\xb5\xfe"
            "\xde\xda\xdb\xd9\xfd\xdd\xaf\xb4"
            "\xad\xb1\u2017\xbe\xb6\xa7\xf7\xb8"
            "\xb0\xa8\xb7\xb9\xb3\xb2\u25a0\xa0"
        ),
    ),
    (
        "CP1252",
        (
            "\u20ac \u201a\u0192\u201e\u2026\u2020\u2021"
            "\u02c6\u2030\u0160\u2039\u0152 \u017d "
            " \u2018\u2019\u201c\u201d\u2022\u2013\u2014"
            "\u02dc\u2122\u0161\u203a\u0153 \u017e\u0178"
            "\xa0\xa1\xa2\xa3\xa4\xa5\xa6\xa7"
            "\xa8\xa9\xaa\xab\xac\xad\xae\xaf"
            "\xb0\xb1\xb2\xb3\xb4\xb5\xb6\xb7"
            "\xb8\xb9\xba\xbb\xbc\xbd\xbe\xbf"
            "\xc0\xc1\xc2\xc3\xc4\xc5\xc6\xc7"
            "\xc8\xc9\xca\xcb\xcc\xcd\xce\xcf"
            "\xd0\xd1\xd2\xd3\xd4\xd5\xd6\xd7"
            "\xd8\xd9\xda\xdb\xdc\xdd\xde\xdf"
            "\xe0\xe1\xe2\xe3\xe4\xe5\xe6\xe7"
            "\xe8\xe9\xea\xeb\xec\xed\xee\xef"
            "\xf0\xf1\xf2\xf3\xf4\xf5\xf6\xf7"
            "\xf8\xf9\xfa\xfb\xfc\xfd\xfe\xff"
        ),
    ),
    (
        "CP720",
        (
            "\x80\x81\xe9\xe2\x84\xe0\x86\xe7"
            "\xea\xeb\xe8\xef\xee\x8d\x8e\x8f"
            "\x90\u0651\u0652\xf4\xa4\u0640\xfb\xf9"
            "\u0621\u0622\u0623\u0624\xa3\u0625\u0626\u0627"
            "\u0628\u0629\u062a\u062b\u062c\u062d\u062e\u062f"
            "\u0630\u0631\u0632\u0633\u0634\u0635\xab\xbb"
            "\u2591\u2592\u2593\u2502\u2524\u2561\u2562\u2556"
            "\u2555\u2563\u2551\u2557\u255d\u255c\u255b\u2510"
            "\u2514\u2534\u252c\u251c\u2500\u253c\u255e\u255f"
            "\u255a\u2554\u2569\u2566\u2560\u2550\u256c\u2567"
            "\u2568\u2564\u2565\u2559\u2558\u2552\u2553\u256b"
            "\u256a\u2518\u250c\u2588\u2584\u258c\u2590\u2580"
            "\u0636\u0637\u0638\u0639\u063a\u0641\xb5\u0642"
            "\u0643\u0644\u0645\u0646\u0647\u0648\u0649\u064a"
            "\u2261\u064b\u064c\u064d\u064e\u064f\u0650\u2248"
            "\xb0\u2219\xb7\u221a\u207f\xb2\u25a0\xa0"
        ),
    ),
    (
        "CP864",
        (
            "\xb0\xb7\u2219\u221a\u2592\u2500\u2502\u253c"
            "\u2524\u252c\u251c\u2534\u2510\u250c\u2514\u2518"
            "\u03b2\u221e\u03c6\xb1\xbd\xbc\u2248\xab"
            "\xbb\ufef7\ufef8  \ufefb\ufefc "
            "\xa0\xad\ufe82\xa3\xa4\ufe84  "
            "\ufe8e\ufe8f\ufe95\ufe99\u060c\ufe9d\ufea1\ufea5"
            "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667"
            "\u0668\u0669\ufed1\u061b\ufeb1\ufeb5\ufeb9\u061f"
            "\xa2\ufe80\ufe81\ufe83\ufe85\ufeca\ufe8b\ufe8d"
            "\ufe91\ufe93\ufe97\ufe9b\ufe9f\ufea3\ufea7\ufea9"
            "\ufeab\ufead\ufeaf\ufeb3\ufeb7\ufebb\ufebf\ufec1"
            "\ufec5\ufecb\ufecf\xa6\xac\xf7\xd7\ufec9"
            "\u0640\ufed3\ufed7\ufedb\ufedf\ufee3\ufee7\ufeeb"
            "\ufeed\ufeef\ufef3\ufebd\ufecc\ufece\ufecd\ufee1"
            "\ufe7d\u0651\ufee5\ufee9\ufeec\ufef0\ufef2\ufed0"
            "\ufed5\ufef5\ufef6\ufedd\ufed9\ufef1\u25a0 "
        ),
    ),
    (
        "CP1256",
        (
            "\u20ac\u067e\u201a\u0192\u201e\u2026\u2020\u2021"
            "\u02c6\u2030\u0679\u2039\u0152\u0686\u0698\u0688"
            "\u06af\u2018\u2019\u201c\u201d\u2022\u2013\u2014"
            "\u06a9\u2122\u0691\u203a\u0153\u200c\u200d\u06ba"
            "\xa0\u060c\xa2\xa3\xa4\xa5\xa6\xa7"
            "\xa8\xa9\u06be\xab\xac\xad\xae\xaf"
            "\xb0\xb1\xb2\xb3\xb4\xb5\xb6\xb7"
            "\xb8\xb9\u061b\xbb\xbc\xbd\xbe\u061f"
            "\u06c1\u0621\u0622\u0623\u0624\u0625\u0626\u0627"
            "\u0628\u0629\u062a\u062b\u062c\u062d\u062e\u062f"
            "\u0630\u0631\u0632\u0633\u0634\u0635\u0636\xd7"
            "\u0637\u0638\u0639\u063a\u0640\u0641\u0642\u0643"
            "\xe0\u0644\xe2\u0645\u0646\u0647\u0648\xe7"
            "\xe8\xe9\xea\xeb\u0649\u064a\xee\xef"
            "\u064b\u064c\u064d\u064e\xf4\u064f\u0650\xf7"
            "\u0651\xf9\u0652\xfb\xfc\u200e\u200f\u06d2"
        ),
    ),
)
