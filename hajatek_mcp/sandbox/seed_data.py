"""The raw material of the demo store "Souq Al-Noor" (سوق النور): catalogue, people, places.

Plain data, no logic; :mod:`hajatek_mcp.sandbox.seed` combines it deterministically. Product names come in English
and Arabic; every item has a price range in SAR and is combined with variants (colour, size, pack). People's names
come in English, with each first and family name's Arabic spelling in :data:`NAMES_AR`.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "CATEGORIES",
    "CITIES",
    "FAMILY_NAMES",
    "FEMALE_NAMES",
    "MALE_NAMES",
    "NAMES_AR",
    "STORE",
    "STORE_NAMES",
    "Category",
    "Item",
]


class Item(NamedTuple):
    name: str
    name_ar: str
    min_price: int
    max_price: int


class Category(NamedTuple):
    slug: str
    title: str
    sku_prefix: str
    items: tuple[Item, ...]
    variants: tuple[tuple[str, str], ...]


STORE = {
    "name": "Souq Al-Noor",
    "name_ar": "سوق النور",
    "currency": "SAR",
    "country": "SA",
    "timezone": "Asia/Riyadh",
    "email": "owner@souq-alnoor.example.sa",
    "domain": "souq-alnoor.example.sa",
}

#: Names of the further stores of a sandbox serving several (``hajatek-mcp sandbox --stores N``): English, Arabic.
STORE_NAMES: tuple[tuple[str, str], ...] = (
    ("Dar Al-Oud", "دار العود"),
    ("Bayt Al-Bukhoor", "بيت البخور"),
    ("Tamr Al-Madinah", "تمر المدينة"),
    ("Qahwat Al-Diwan", "قهوة الديوان"),
    ("Souq Al-Hijaz", "سوق الحجاز"),
    ("Nasaem Najd", "نسائم نجد"),
    ("Lamsat Bait", "لمسة بيت"),
    ("Zahrat Al-Khaleej", "زهرة الخليج"),
)

_COLOURS = (("Black", "أسود"), ("White", "أبيض"), ("Silver", "فضي"), ("Blue", "أزرق"), ("Gold", "ذهبي"))
_FABRIC_COLOURS = (
    ("Black", "أسود"),
    ("Navy", "كحلي"),
    ("Beige", "بيج"),
    ("White", "أبيض"),
    ("Grey", "رمادي"),
    ("Burgundy", "عنابي"),
)

CATEGORIES: tuple[Category, ...] = (
    Category(
        "electronics",
        "Electronics",
        "ELE",
        (
            Item("Wireless Earbuds", "سماعات لاسلكية", 99, 899),
            Item("Smartwatch", "ساعة ذكية", 249, 1899),
            Item("Power Bank 20000mAh", "شاحن متنقل 20000 مللي أمبير", 79, 249),
            Item("USB-C Fast Charger", "شاحن سريع USB-C", 49, 179),
            Item("Bluetooth Speaker", "سماعة بلوتوث", 129, 999),
            Item("Gaming Mouse", "فأرة ألعاب", 89, 449),
            Item("Mechanical Keyboard", "لوحة مفاتيح ميكانيكية", 199, 799),
            Item("4K Action Camera", "كاميرا أكشن 4K", 399, 1799),
            Item("Phone Case", "غطاء جوال", 29, 149),
            Item("Tablet 10-inch", "جهاز لوحي 10 بوصة", 699, 2499),
            Item("Noise-Cancelling Headphones", "سماعات عازلة للضوضاء", 399, 1699),
            Item("Smart Home Camera", "كاميرا منزلية ذكية", 149, 599),
        ),
        _COLOURS,
    ),
    Category(
        "fashion",
        "Fashion",
        "FAS",
        (
            Item("Thobe", "ثوب", 149, 549),
            Item("Shemagh", "شماغ", 99, 399),
            Item("Abaya", "عباية", 199, 1299),
            Item("Hijab", "طرحة", 39, 149),
            Item("Sneakers", "حذاء رياضي", 179, 699),
            Item("Leather Sandals", "صندل جلد", 99, 399),
            Item("Bisht", "بشت", 599, 2999),
            Item("Kaftan", "قفطان", 149, 699),
            Item("Silk Scarf", "وشاح حرير", 79, 349),
            Item("Linen Shirt", "قميص كتان", 99, 299),
            Item("Denim Jacket", "جاكيت جينز", 179, 499),
            Item("Handbag", "حقيبة يد", 149, 1499),
        ),
        _FABRIC_COLOURS,
    ),
    Category(
        "home-kitchen",
        "Home & Kitchen",
        "HOM",
        (
            Item("Arabic Coffee Dallah", "دلة قهوة عربية", 79, 599),
            Item("Tea Set", "طقم شاي", 99, 499),
            Item("Non-stick Cookware Set", "طقم أواني غير لاصقة", 249, 1199),
            Item("Air Fryer", "قلاية هوائية", 299, 899),
            Item("Electric Kettle", "غلاية كهربائية", 79, 299),
            Item("Prayer Rug", "سجادة صلاة", 49, 399),
            Item("Incense Burner", "مبخرة", 59, 699),
            Item("Dinner Set 24 pcs", "طقم عشاء 24 قطعة", 199, 999),
            Item("Blender", "خلاط", 149, 699),
            Item("Cushion Covers", "أغطية وسائد", 39, 199),
            Item("Storage Containers", "علب حفظ", 29, 149),
            Item("Rice Cooker", "طباخ أرز", 129, 499),
        ),
        (("Classic", "كلاسيك"), ("Modern", "عصري"), ("Gold Edition", "إصدار ذهبي"), ("Family Size", "حجم عائلي")),
    ),
    Category(
        "beauty",
        "Beauty",
        "BEA",
        (
            Item("Argan Oil", "زيت الأرغان", 39, 149),
            Item("Rose Water Toner", "تونر ماء الورد", 29, 99),
            Item("Vitamin C Serum", "سيروم فيتامين سي", 59, 249),
            Item("Sunscreen SPF 50", "واقي شمس SPF 50", 45, 149),
            Item("Kohl Eyeliner", "كحل للعيون", 19, 89),
            Item("Henna Kit", "عدة حناء", 25, 79),
            Item("Moisturising Cream", "كريم مرطب", 35, 199),
            Item("Lip Balm", "مرطب شفاه", 15, 59),
            Item("Hair Mask", "ماسك شعر", 39, 149),
            Item("Face Wash", "غسول وجه", 29, 119),
            Item("Black Seed Oil Shampoo", "شامبو زيت الحبة السوداء", 29, 99),
            Item("Clay Mask", "ماسك الطين", 35, 129),
        ),
        (("50 ml", "50 مل"), ("100 ml", "100 مل"), ("200 ml", "200 مل"), ("Travel Size", "حجم السفر")),
    ),
    Category(
        "perfumes-oud",
        "Perfumes & Oud",
        "PER",
        (
            Item("Cambodian Oud Oil", "دهن عود كمبودي", 299, 2999),
            Item("Indian Oud Chips", "عود هندي للبخور", 199, 1999),
            Item("Musk Tahara", "مسك الطهارة", 29, 149),
            Item("Amber Perfume", "عطر العنبر", 149, 699),
            Item("Taif Rose Oil", "دهن الورد الطائفي", 199, 1499),
            Item("Bakhoor Blend", "بخور معطر", 49, 349),
            Item("Saffron Oud Perfume", "عطر العود بالزعفران", 249, 1299),
            Item("White Musk", "مسك أبيض", 59, 299),
            Item("Sandalwood Oil", "زيت الصندل", 99, 599),
            Item("Oud Mubakhar", "عود مبخر", 149, 999),
        ),
        (("Tola 12 ml", "تولة 12 مل"), ("50 ml", "50 مل"), ("100 ml", "100 مل"), ("Gift Box", "علبة هدايا")),
    ),
    Category(
        "dates-coffee",
        "Dates & Coffee",
        "DAT",
        (
            Item("Ajwa Dates", "تمر عجوة", 59, 299),
            Item("Sukkari Dates", "تمر سكري", 39, 199),
            Item("Medjool Dates", "تمر مجدول", 69, 349),
            Item("Khalas Dates", "تمر خلاص", 35, 179),
            Item("Saudi Coffee Blend", "قهوة سعودية", 39, 149),
            Item("Khawlani Coffee Beans", "بن خولاني", 69, 299),
            Item("Green Cardamom", "هيل أخضر", 49, 249),
            Item("Saffron", "زعفران", 49, 399),
            Item("Almond-Stuffed Dates", "تمر محشي باللوز", 79, 349),
            Item("Date Paste", "عجينة تمر", 19, 89),
            Item("Arabic Coffee with Saffron", "قهوة عربية بالزعفران", 45, 179),
        ),
        (("250 g", "250 غرام"), ("500 g", "500 غرام"), ("1 kg", "1 كيلو"), ("Gift Box", "علبة هدايا")),
    ),
    Category(
        "sports",
        "Sports & Outdoors",
        "SPO",
        (
            Item("Yoga Mat", "سجادة يوغا", 59, 249),
            Item("Dumbbell Set", "طقم دمبلز", 149, 899),
            Item("Running Shoes", "حذاء جري", 199, 799),
            Item("Football", "كرة قدم", 49, 249),
            Item("Padel Racket", "مضرب بادل", 199, 1299),
            Item("Resistance Bands", "أحزمة مقاومة", 39, 149),
            Item("Gym Bag", "حقيبة رياضية", 79, 349),
            Item("Water Bottle 1L", "قارورة ماء 1 لتر", 29, 129),
            Item("Cycling Helmet", "خوذة دراجة", 99, 499),
            Item("Camping Tent", "خيمة تخييم", 249, 1499),
            Item("Jump Rope", "حبل قفز", 19, 79),
        ),
        _COLOURS[:4],
    ),
    Category(
        "kids-toys",
        "Kids & Toys",
        "KID",
        (
            Item("Building Blocks", "مكعبات بناء", 49, 399),
            Item("Remote Control Car", "سيارة تحكم عن بعد", 99, 499),
            Item("Plush Camel", "جمل محشو", 29, 119),
            Item("Arabic Alphabet Puzzle", "لغز الحروف العربية", 29, 99),
            Item("Kids Scooter", "سكوتر أطفال", 149, 549),
            Item("Doll House", "بيت دمى", 199, 899),
            Item("Drawing Set", "طقم رسم", 39, 199),
            Item("Board Game", "لعبة لوحية", 59, 249),
        ),
        (("Ages 3+", "من 3 سنوات"), ("Ages 6+", "من 6 سنوات"), ("Deluxe", "فاخر"), ("Mini", "صغير")),
    ),
)

MALE_NAMES = (
    "Abdullah", "Mohammed", "Ahmed", "Khalid", "Faisal", "Saud", "Turki", "Abdulaziz", "Omar", "Fahad",
    "Sultan", "Nasser", "Yousef", "Majed", "Bandar", "Saad", "Hamad", "Ibrahim", "Ali", "Mansour",
    "Rayan", "Ziyad", "Talal", "Meshal", "Nawaf", "Badr", "Hassan", "Waleed", "Abdulrahman", "Saleh",
)  # fmt: skip
FEMALE_NAMES = (
    "Noura", "Sara", "Fatimah", "Aisha", "Reem", "Lama", "Hessa", "Maha", "Amal", "Dana",
    "Shahad", "Rawan", "Jawaher", "Latifa", "Munira", "Haya", "Asma", "Lujain", "Ghada", "Nouf",
    "Abeer", "Hind", "Razan", "Wafa", "Mariam", "Joud", "Layan", "Arwa", "Manal", "Ruba",
)  # fmt: skip
FAMILY_NAMES = (
    "Al-Qahtani", "Al-Otaibi", "Al-Harbi", "Al-Ghamdi", "Al-Zahrani", "Al-Dosari", "Al-Shehri", "Al-Mutairi",
    "Al-Shammari", "Al-Anazi", "Al-Subaie", "Al-Malki", "Al-Rashidi", "Al-Juhani", "Al-Amri", "Al-Asiri",
    "Al-Yami", "Al-Balawi", "Al-Tamimi", "Al-Sulami", "Al-Omari", "Al-Hazmi", "Al-Faifi", "Al-Khaldi",
    "Al-Sharif", "Al-Saleh", "Al-Johani", "Al-Mohammadi", "Al-Ruwaili", "Al-Ahmari", "Bakr", "Hawsawi",
)  # fmt: skip
# Each first and family name above in Arabic, for customers' ``name_ar``. Some families have two English spellings of
# one Arabic name (Al-Amri and Al-Omari, Al-Juhani and Al-Johani), as in real customer lists.
NAMES_AR = {
    "Abdullah": "عبدالله", "Mohammed": "محمد", "Ahmed": "أحمد", "Khalid": "خالد", "Faisal": "فيصل",
    "Saud": "سعود", "Turki": "تركي", "Abdulaziz": "عبدالعزيز", "Omar": "عمر", "Fahad": "فهد",
    "Sultan": "سلطان", "Nasser": "ناصر", "Yousef": "يوسف", "Majed": "ماجد", "Bandar": "بندر",
    "Saad": "سعد", "Hamad": "حمد", "Ibrahim": "إبراهيم", "Ali": "علي", "Mansour": "منصور",
    "Rayan": "ريان", "Ziyad": "زياد", "Talal": "طلال", "Meshal": "مشعل", "Nawaf": "نواف",
    "Badr": "بدر", "Hassan": "حسن", "Waleed": "وليد", "Abdulrahman": "عبدالرحمن", "Saleh": "صالح",
    "Noura": "نورة", "Sara": "سارة", "Fatimah": "فاطمة", "Aisha": "عائشة", "Reem": "ريم",
    "Lama": "لمى", "Hessa": "حصة", "Maha": "مها", "Amal": "أمل", "Dana": "دانة",
    "Shahad": "شهد", "Rawan": "روان", "Jawaher": "جواهر", "Latifa": "لطيفة", "Munira": "منيرة",
    "Haya": "هيا", "Asma": "أسماء", "Lujain": "لجين", "Ghada": "غادة", "Nouf": "نوف",
    "Abeer": "عبير", "Hind": "هند", "Razan": "رزان", "Wafa": "وفاء", "Mariam": "مريم",
    "Joud": "جود", "Layan": "ليان", "Arwa": "أروى", "Manal": "منال", "Ruba": "ربى",
    "Al-Qahtani": "القحطاني", "Al-Otaibi": "العتيبي", "Al-Harbi": "الحربي", "Al-Ghamdi": "الغامدي",
    "Al-Zahrani": "الزهراني", "Al-Dosari": "الدوسري", "Al-Shehri": "الشهري", "Al-Mutairi": "المطيري",
    "Al-Shammari": "الشمري", "Al-Anazi": "العنزي", "Al-Subaie": "السبيعي", "Al-Malki": "المالكي",
    "Al-Rashidi": "الرشيدي", "Al-Juhani": "الجهني", "Al-Amri": "العمري", "Al-Asiri": "العسيري",
    "Al-Yami": "اليامي", "Al-Balawi": "البلوي", "Al-Tamimi": "التميمي", "Al-Sulami": "السلمي",
    "Al-Omari": "العمري", "Al-Hazmi": "الحازمي", "Al-Faifi": "الفيفي", "Al-Khaldi": "الخالدي",
    "Al-Sharif": "الشريف", "Al-Saleh": "الصالح", "Al-Johani": "الجهني", "Al-Mohammadi": "المحمدي",
    "Al-Ruwaili": "الرويلي", "Al-Ahmari": "الأحمري", "Bakr": "بكر", "Hawsawi": "هوساوي",
}  # fmt: skip
# (city, weight): roughly where online orders come from.
CITIES = (
    ("Riyadh", 30),
    ("Jeddah", 22),
    ("Dammam", 9),
    ("Makkah", 9),
    ("Madinah", 8),
    ("Khobar", 7),
    ("Abha", 4),
    ("Tabuk", 4),
    ("Taif", 4),
    ("Buraidah", 3),
)
