"""Word lists for the synthetic demo corpus (see ``medner.corpus.demo``).

Everything here is invented for the demo: drug classes with plausible
strengths, routes, forms, frequencies, indications (Reason) and adverse events
(ADE). Nothing is taken from a real clinical record.

Two properties matter for the study and are built into these lists:

* Each class has *shared* drug names (used in every split) and *held-out* names
  (used only in dev and test), so static word vectors trained on the training
  text meet drug names they have never seen.
* Condition words such as "rash", "hypotension" or "hyperkalemia" are the
  indication of one class and the adverse event of another, so the label of a
  condition mention can only be read from its context.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Surface variants per route kind; repeated entries weight the common spelling.
ROUTES: dict[str, tuple[str, ...]] = {
    "oral": ("PO", "PO", "PO", "PO", "p.o.", "by mouth", "by mouth", "orally", "po"),
    "iv": ("IV", "IV", "IV", "intravenously", "IVPB"),
    "sc": ("SC", "subcutaneously", "SQ", "subcut"),
    "sl": ("SL", "SL", "sublingually", "sublingual"),
    "inhaled": ("inhaled", "inhaled", "INH", "via nebulizer", "inhalation"),
    "topical": ("topically", "topical", "TP"),
    "transdermal": ("transdermal", "TD"),
    "rectal": ("PR", "per rectum", "rectally"),
    "im": ("IM", "intramuscularly"),
}

FORMS: dict[str, tuple[str, ...]] = {
    "oral": (
        "tablet", "tablet", "tablet", "tab", "capsule", "capsule", "cap",
        "extended release tablet", "delayed release tablet", "oral solution", "suspension",
    ),
    "iv": ("injection", "solution", "vial", "premix bag"),
    "sc": ("injection", "syringe", "pen", "solution"),
    "sl": ("tablet", "tab"),
    "inhaled": ("inhaler", "inhaler", "HFA inhaler", "nebulizer solution", "Diskus", "aerosol"),
    "topical": ("cream", "ointment", "gel"),
    "transdermal": ("patch",),
    "rectal": ("suppository",),
    "im": ("injection",),
}

# Dosage in the n2c2 sense: how many units of the form are taken at once.
DOSAGES: dict[str, tuple[str, ...]] = {
    "oral": (
        "1 tab", "1 tab", "2 tabs", "1/2 tab", "one tablet", "1 tablet", "2 tablets",
        "1 capsule", "2 caps", "1-2 tabs", "half a tablet", "1 cap",
    ),
    "iv": (),
    "sc": ("10 units", "12 units", "20 units", "6 units", "1 injection"),
    "sl": ("1 tab", "1 tablet"),
    "inhaled": ("2 puffs", "2 puffs", "1 puff", "1 neb", "one puff", "1 vial"),
    "topical": ("1 application",),
    "transdermal": ("1 patch",),
    "rectal": ("1 suppository",),
    "im": (),
}

# Discharge-summary style "Sig: One (1) Tablet PO BID (2 times a day)".
SIG_DOSAGES: tuple[str, ...] = ("One (1)", "One (1)", "One (1)", "Two (2)", "Three (3)", "1/2 (One-Half)")
SIG_FORMS: dict[str, tuple[str, ...]] = {
    "oral": ("Tablet", "Tablet", "Capsule"),
    "sl": ("Tablet",),
    "inhaled": ("Puff", "Puffs"),
    "transdermal": ("Patch",),
}
SIG_ROUTES: dict[str, tuple[str, ...]] = {
    "oral": ("PO", "PO", "PO"),
    "sl": ("Sublingual",),
    "inhaled": ("Inhalation",),
    "transdermal": ("Transdermal",),
}
SIG_FREQUENCIES: tuple[str, ...] = (
    "BID (2 times a day)", "TID (3 times a day)", "DAILY (Daily)", "Q8H (every 8 hours)",
    "Q12H (every 12 hours)", "HS (at bedtime)", "QID (4 times a day)", "Q24H (every 24 hours)",
)

FREQUENCIES_REGULAR: tuple[str, ...] = (
    "daily", "daily", "daily", "once daily", "q.d.", "QD", "qday", "BID", "BID", "BID", "b.i.d.",
    "twice daily", "twice a day", "TID", "t.i.d.", "three times a day", "QID", "four times daily",
    "QHS", "at bedtime", "q.h.s.", "q8h", "every 8 hours", "q12h", "q12h", "Q12H", "every 12 hours",
    "q24h", "qAM", "every morning", "weekly",
)
FREQUENCIES_PRN: tuple[str, ...] = (
    "q6h prn", "q6h prn", "q4h prn", "q4-6h prn", "q6h PRN", "q8h prn", "prn", "PRN", "as needed",
    "every 6 hours as needed", "every 4 hours as needed", "q4h as needed", "BID prn",
    "Q6H (every 6 hours) as needed",
)

DURATIONS: tuple[str, ...] = (
    "x7 days", "x7 days", "x 7 days", "x5 days", "x 10 days", "x14 days", "for 7 days", "for 5 days",
    "for 10 days", "for 2 weeks", "for 2 weeks", "for 3 weeks", "for 1 week", "for one month",
    "for 3 more days", "for a total of 14 days", "until follow-up",
)


@dataclass(frozen=True)
class DrugClass:
    """Shared properties of a group of drugs: how they are given and what they treat or cause."""

    name: str
    routes: tuple[str, ...]
    reasons: tuple[str, ...]
    adverse_events: tuple[str, ...]
    prn: bool = False  # mostly given "as needed"
    course: bool = False  # usually given for a limited time (so a Duration is likely)


@dataclass(frozen=True)
class DrugName:
    """One drug as it is written, with its class and strengths; ``held_out`` names never appear in train."""

    name: str
    drug_class: str
    strengths: tuple[str, ...]
    held_out: bool = False
    routes: tuple[str, ...] = ()  # overrides the class routes when given
    reasons: tuple[str, ...] = ()  # overrides the class reasons when given
    brands: tuple[str, ...] = field(default=())


DRUG_CLASSES: tuple[DrugClass, ...] = (
    DrugClass("beta_blocker", ("oral",), ("hypertension", "atrial fibrillation", "rate control", "tachycardia", "angina"),
              ("bradycardia", "hypotension", "fatigue", "dizziness")),
    DrugClass("ace_arb", ("oral",), ("hypertension", "proteinuria", "heart failure", "hypertension"),
              ("angioedema", "cough", "hyperkalemia", "hypotension", "acute kidney injury")),
    DrugClass("calcium_channel_blocker", ("oral",), ("hypertension", "atrial fibrillation", "angina"),
              ("edema", "hypotension", "bradycardia", "constipation")),
    DrugClass("diuretic", ("oral", "iv"), ("edema", "volume overload", "heart failure", "hypertension", "ascites"),
              ("hypokalemia", "hyponatremia", "acute kidney injury", "hypotension", "dehydration")),
    DrugClass("anticoagulant", ("oral",), ("atrial fibrillation", "DVT", "pulmonary embolism", "DVT prophylaxis"),
              ("bleeding", "hematoma", "GI bleed", "epistaxis")),
    DrugClass("antibiotic", ("oral", "iv"),
              ("MRSA bacteremia", "pneumonia", "urinary tract infection", "UTI", "cellulitis", "sepsis", "osteomyelitis"),
              ("rash", "diarrhea", "acute kidney injury", "nausea", "QT prolongation", "hives"), course=True),
    DrugClass("analgesic", ("oral", "iv"), ("pain", "pain", "back pain", "postoperative pain", "headache"),
              ("constipation", "nausea", "sedation", "pruritus", "respiratory depression", "hypotension", "confusion"),
              prn=True),
    DrugClass("antiemetic", ("oral", "iv"), ("nausea", "nausea", "vomiting", "nausea and vomiting"),
              ("QT prolongation", "constipation", "headache", "dystonia"), prn=True),
    DrugClass("diabetes", ("oral",), ("diabetes", "type 2 diabetes", "hyperglycemia"),
              ("hypoglycemia", "diarrhea", "nausea", "lactic acidosis")),
    DrugClass("insulin", ("sc",), ("hyperglycemia", "diabetes", "type 1 diabetes"), ("hypoglycemia",)),
    DrugClass("electrolyte", ("oral", "iv"), ("hypokalemia", "hypomagnesemia", "hypocalcemia"),
              ("hyperkalemia", "diarrhea", "nausea")),
    DrugClass("potassium_binder", ("oral",), ("hyperkalemia",), ("diarrhea", "hypokalemia", "constipation")),
    DrugClass("vasopressor", ("iv", "oral"), ("hypotension", "hypotension", "septic shock", "orthostatic hypotension"),
              ("tachycardia", "hypertension", "arrhythmia")),
    DrugClass("rescue", ("iv", "im"), ("bradycardia", "anaphylaxis", "angioedema", "hypoglycemia"),
              ("tachycardia", "hypertension")),
    DrugClass("antihistamine_steroid", ("oral", "iv"), ("rash", "pruritus", "angioedema", "allergic reaction", "COPD exacerbation", "gout flare"),
              ("hyperglycemia", "sedation", "insomnia", "confusion")),
    DrugClass("topical", ("topical",), ("rash", "pruritus", "eczema", "dermatitis"), ("skin irritation", "burning")),
    DrugClass("gastrointestinal", ("oral",), ("GERD", "constipation", "GI prophylaxis", "hepatic encephalopathy", "diarrhea"),
              ("diarrhea", "abdominal cramping", "bloating")),
    DrugClass("respiratory", ("inhaled",), ("wheezing", "COPD", "asthma", "shortness of breath"),
              ("tachycardia", "tremor", "thrush")),
    DrugClass("lipid_antiplatelet", ("oral",), ("hyperlipidemia", "coronary artery disease", "CAD", "stroke prevention"),
              ("myalgias", "bleeding", "transaminitis", "rhabdomyolysis")),
    DrugClass("psychiatric_neurologic", ("oral",),
              ("agitation", "anxiety", "insomnia", "depression", "seizures", "neuropathic pain", "delirium"),
              ("sedation", "QT prolongation", "confusion", "hyponatremia", "dizziness", "delirium")),
    DrugClass("cardiac", ("oral",), ("chest pain", "atrial fibrillation", "heart failure", "angina", "hypertension"),
              ("bradycardia", "hypotension", "headache", "hypothyroidism", "nausea")),
)

_MG_BETA = ("12.5 mg", "25 mg", "50 mg", "100 mg")
_MG_ACE = ("2.5 mg", "5 mg", "10 mg", "20 mg", "40 mg")

DRUGS: tuple[DrugName, ...] = (
    # beta blockers
    DrugName("metoprolol tartrate", "beta_blocker", _MG_BETA),
    DrugName("metoprolol succinate", "beta_blocker", ("25 mg", "50 mg", "100 mg")),
    DrugName("metoprolol", "beta_blocker", _MG_BETA, routes=("oral", "iv")),
    DrugName("atenolol", "beta_blocker", ("25 mg", "50 mg")),
    DrugName("carvedilol", "beta_blocker", ("3.125 mg", "6.25 mg", "12.5 mg", "25 mg")),
    DrugName("nadolol", "beta_blocker", ("20 mg", "40 mg"), held_out=True),
    DrugName("bisoprolol", "beta_blocker", ("2.5 mg", "5 mg", "10 mg"), held_out=True),
    DrugName("labetalol", "beta_blocker", ("100 mg", "200 mg", "10 mg"), held_out=True, routes=("oral", "iv")),
    # ACE inhibitors and ARBs
    DrugName("lisinopril", "ace_arb", _MG_ACE, brands=("Zestril",)),
    DrugName("enalapril", "ace_arb", _MG_ACE),
    DrugName("losartan", "ace_arb", ("25 mg", "50 mg", "100 mg"), brands=("Cozaar",)),
    DrugName("ramipril", "ace_arb", ("2.5 mg", "5 mg", "10 mg"), held_out=True),
    DrugName("captopril", "ace_arb", ("6.25 mg", "12.5 mg", "25 mg"), held_out=True),
    DrugName("valsartan", "ace_arb", ("40 mg", "80 mg", "160 mg"), held_out=True, brands=("Diovan",)),
    DrugName("irbesartan", "ace_arb", ("75 mg", "150 mg"), held_out=True),
    # calcium channel blockers
    DrugName("amlodipine", "calcium_channel_blocker", ("2.5 mg", "5 mg", "10 mg"), brands=("Norvasc",)),
    DrugName("diltiazem", "calcium_channel_blocker", ("30 mg", "60 mg", "120 mg", "240 mg")),
    DrugName("nifedipine", "calcium_channel_blocker", ("30 mg", "60 mg", "10 mg")),
    DrugName("verapamil", "calcium_channel_blocker", ("80 mg", "120 mg", "240 mg"), held_out=True),
    DrugName("felodipine", "calcium_channel_blocker", ("2.5 mg", "5 mg"), held_out=True),
    # diuretics
    DrugName("furosemide", "diuretic", ("20 mg", "40 mg", "80 mg"), brands=("Lasix",)),
    DrugName("hydrochlorothiazide", "diuretic", ("12.5 mg", "25 mg"), routes=("oral",)),
    DrugName("spironolactone", "diuretic", ("25 mg", "50 mg", "100 mg"), routes=("oral",)),
    DrugName("torsemide", "diuretic", ("10 mg", "20 mg", "40 mg"), held_out=True),
    DrugName("bumetanide", "diuretic", ("0.5 mg", "1 mg", "2 mg"), held_out=True, brands=("Bumex",)),
    DrugName("chlorthalidone", "diuretic", ("12.5 mg", "25 mg"), held_out=True, routes=("oral",)),
    DrugName("metolazone", "diuretic", ("2.5 mg", "5 mg"), held_out=True, routes=("oral",)),
    # anticoagulants
    DrugName("warfarin", "anticoagulant", ("1 mg", "2 mg", "2.5 mg", "5 mg", "7.5 mg"), brands=("Coumadin",)),
    DrugName("heparin", "anticoagulant", ("5,000 units", "5000 units", "1,000 units/hr"), routes=("sc", "iv")),
    DrugName("enoxaparin", "anticoagulant", ("40 mg", "60 mg", "80 mg", "1 mg/kg"), routes=("sc",), brands=("Lovenox",)),
    DrugName("apixaban", "anticoagulant", ("2.5 mg", "5 mg"), brands=("Eliquis",)),
    DrugName("rivaroxaban", "anticoagulant", ("10 mg", "15 mg", "20 mg"), held_out=True, brands=("Xarelto",)),
    DrugName("dabigatran", "anticoagulant", ("75 mg", "150 mg"), held_out=True),
    DrugName("fondaparinux", "anticoagulant", ("2.5 mg", "7.5 mg"), held_out=True, routes=("sc",)),
    DrugName("argatroban", "anticoagulant", ("2 mcg/kg/min",), held_out=True, routes=("iv",)),
    # antibiotics
    DrugName("vancomycin", "antibiotic", ("1 g", "1.25 g", "1,000 mg", "125 mg", "750 mg")),
    DrugName("ceftriaxone", "antibiotic", ("1 g", "2 g"), routes=("iv",)),
    DrugName("amoxicillin", "antibiotic", ("500 mg", "875 mg"), routes=("oral",)),
    DrugName("ciprofloxacin", "antibiotic", ("250 mg", "500 mg", "400 mg"), brands=("Cipro",)),
    DrugName("azithromycin", "antibiotic", ("250 mg", "500 mg"), brands=("Zithromax",)),
    DrugName("cefazolin", "antibiotic", ("1 g", "2 g"), routes=("iv",)),
    DrugName("metronidazole", "antibiotic", ("500 mg",), brands=("Flagyl",)),
    DrugName("Bactrim", "antibiotic", ("1 DS tab", "800-160 mg"), routes=("oral",)),
    DrugName("levofloxacin", "antibiotic", ("500 mg", "750 mg"), held_out=True, brands=("Levaquin",)),
    DrugName("doxycycline", "antibiotic", ("100 mg",), held_out=True, routes=("oral",)),
    DrugName("cefepime", "antibiotic", ("1 g", "2 g"), held_out=True, routes=("iv",)),
    DrugName("meropenem", "antibiotic", ("500 mg", "1 g"), held_out=True, routes=("iv",)),
    DrugName("linezolid", "antibiotic", ("600 mg",), held_out=True),
    DrugName("nitrofurantoin", "antibiotic", ("100 mg",), held_out=True, routes=("oral",), brands=("Macrobid",)),
    DrugName("clindamycin", "antibiotic", ("300 mg", "600 mg"), held_out=True),
    DrugName("cephalexin", "antibiotic", ("250 mg", "500 mg"), held_out=True, routes=("oral",), brands=("Keflex",)),
    # analgesics
    DrugName("oxycodone", "analgesic", ("5 mg", "10 mg", "2.5 mg"), routes=("oral",)),
    DrugName("morphine", "analgesic", ("2 mg", "4 mg", "15 mg", "30 mg")),
    DrugName("hydromorphone", "analgesic", ("0.5 mg", "1 mg", "2 mg", "4 mg"), brands=("Dilaudid",)),
    DrugName("acetaminophen", "analgesic", ("325 mg", "500 mg", "650 mg", "1,000 mg", "1 g"),
             reasons=("pain", "fever", "headache", "pain"), brands=("Tylenol",)),
    DrugName("tramadol", "analgesic", ("50 mg",), routes=("oral",)),
    DrugName("hydrocodone-acetaminophen", "analgesic", ("5-325 mg",), held_out=True, routes=("oral",), brands=("Norco",)),
    DrugName("fentanyl", "analgesic", ("25 mcg/hr", "50 mcg", "12 mcg/hr"), held_out=True, routes=("transdermal", "iv")),
    DrugName("oxymorphone", "analgesic", ("5 mg", "10 mg"), held_out=True, routes=("oral",)),
    DrugName("tapentadol", "analgesic", ("50 mg",), held_out=True, routes=("oral",)),
    DrugName("ketorolac", "analgesic", ("15 mg", "30 mg"), held_out=True, routes=("iv", "oral")),
    # antiemetics
    DrugName("ondansetron", "antiemetic", ("4 mg", "8 mg"), brands=("Zofran",)),
    DrugName("metoclopramide", "antiemetic", ("5 mg", "10 mg"), brands=("Reglan",)),
    DrugName("prochlorperazine", "antiemetic", ("5 mg", "10 mg", "25 mg"), routes=("oral", "rectal")),
    DrugName("promethazine", "antiemetic", ("12.5 mg", "25 mg"), held_out=True, brands=("Phenergan",)),
    DrugName("granisetron", "antiemetic", ("1 mg",), held_out=True),
    # oral diabetes drugs and insulin
    DrugName("metformin", "diabetes", ("500 mg", "850 mg", "1,000 mg"), brands=("Glucophage",)),
    DrugName("glipizide", "diabetes", ("2.5 mg", "5 mg", "10 mg")),
    DrugName("glyburide", "diabetes", ("2.5 mg", "5 mg"), held_out=True),
    DrugName("sitagliptin", "diabetes", ("50 mg", "100 mg"), held_out=True, brands=("Januvia",)),
    DrugName("pioglitazone", "diabetes", ("15 mg", "30 mg"), held_out=True),
    DrugName("glimepiride", "diabetes", ("1 mg", "2 mg", "4 mg"), held_out=True),
    DrugName("insulin glargine", "insulin", ("100 unit/mL",), brands=("Lantus",)),
    DrugName("insulin lispro", "insulin", ("100 unit/mL",), brands=("Humalog",)),
    DrugName("insulin", "insulin", ("100 unit/mL",), routes=("sc", "iv")),
    DrugName("detemir", "insulin", ("100 unit/mL",), held_out=True, brands=("Levemir",)),
    DrugName("degludec", "insulin", ("100 unit/mL",), held_out=True, brands=("Tresiba",)),
    # electrolytes and potassium binders
    DrugName("potassium chloride", "electrolyte", ("20 mEq", "40 mEq", "10 mEq"), reasons=("hypokalemia",), brands=("KCl",)),
    DrugName("magnesium oxide", "electrolyte", ("400 mg",), routes=("oral",), reasons=("hypomagnesemia",)),
    DrugName("calcium carbonate", "electrolyte", ("500 mg", "1,250 mg"), routes=("oral",), reasons=("hypocalcemia", "GERD")),
    DrugName("magnesium sulfate", "electrolyte", ("2 g", "1 g"), routes=("iv",), reasons=("hypomagnesemia",)),
    DrugName("calcium gluconate", "electrolyte", ("1 g", "2 g"), held_out=True, routes=("iv",), reasons=("hypocalcemia", "hyperkalemia")),
    DrugName("potassium phosphate", "electrolyte", ("15 mmol", "30 mmol"), held_out=True, routes=("iv",), reasons=("hypophosphatemia",)),
    DrugName("sodium polystyrene sulfonate", "potassium_binder", ("15 g", "30 g"), brands=("Kayexalate",)),
    DrugName("patiromer", "potassium_binder", ("8.4 g", "16.8 g"), held_out=True, brands=("Veltassa",)),
    DrugName("Lokelma", "potassium_binder", ("10 g", "5 g"), held_out=True),
    # blood pressure support and rescue drugs
    DrugName("midodrine", "vasopressor", ("2.5 mg", "5 mg", "10 mg"), routes=("oral",)),
    DrugName("norepinephrine", "vasopressor", ("0.05 mcg/kg/min", "4 mcg/min"), routes=("iv",), brands=("Levophed",)),
    DrugName("phenylephrine", "vasopressor", ("100 mcg", "0.5 mcg/kg/min"), held_out=True, routes=("iv",)),
    DrugName("vasopressin", "vasopressor", ("0.04 units/min",), held_out=True, routes=("iv",)),
    DrugName("fludrocortisone", "vasopressor", ("0.1 mg",), held_out=True, routes=("oral",)),
    DrugName("atropine", "rescue", ("0.5 mg", "1 mg"), routes=("iv",), reasons=("bradycardia", "symptomatic bradycardia")),
    DrugName("epinephrine", "rescue", ("0.3 mg", "0.5 mg"), routes=("im", "iv"), reasons=("anaphylaxis", "angioedema")),
    DrugName("dextrose", "rescue", ("50%", "25 g", "D50"), routes=("iv",), reasons=("hypoglycemia",)),
    DrugName("glucagon", "rescue", ("1 mg",), held_out=True, routes=("im",), reasons=("hypoglycemia",)),
    DrugName("glycopyrrolate", "rescue", ("0.2 mg",), held_out=True, routes=("iv",), reasons=("bradycardia", "secretions")),
    # antihistamines and steroids
    DrugName("diphenhydramine", "antihistamine_steroid", ("25 mg", "50 mg"), reasons=("rash", "pruritus", "angioedema", "allergic reaction", "insomnia"), brands=("Benadryl",)),
    DrugName("prednisone", "antihistamine_steroid", ("5 mg", "10 mg", "20 mg", "40 mg", "60 mg"), routes=("oral",)),
    DrugName("methylprednisolone", "antihistamine_steroid", ("40 mg", "125 mg"), routes=("iv",), brands=("Solu-Medrol",)),
    DrugName("cetirizine", "antihistamine_steroid", ("10 mg",), held_out=True, routes=("oral",), reasons=("rash", "pruritus", "allergic reaction"), brands=("Zyrtec",)),
    DrugName("hydroxyzine", "antihistamine_steroid", ("25 mg", "50 mg"), held_out=True, routes=("oral",), reasons=("pruritus", "rash", "anxiety")),
    DrugName("dexamethasone", "antihistamine_steroid", ("4 mg", "10 mg"), held_out=True),
    DrugName("loratadine", "antihistamine_steroid", ("10 mg",), held_out=True, routes=("oral",), reasons=("rash", "pruritus", "allergic reaction")),
    DrugName("hydrocortisone", "topical", ("1%", "2.5%")),
    DrugName("triamcinolone", "topical", ("0.1%",), brands=("Kenalog",)),
    DrugName("clobetasol", "topical", ("0.05%",), held_out=True),
    DrugName("mupirocin", "topical", ("2%",), held_out=True, reasons=("skin infection", "impetigo")),
    # gastrointestinal
    DrugName("pantoprazole", "gastrointestinal", ("40 mg",), reasons=("GERD", "GI prophylaxis", "GI bleed"), brands=("Protonix",)),
    DrugName("omeprazole", "gastrointestinal", ("20 mg", "40 mg"), reasons=("GERD", "GI prophylaxis")),
    DrugName("docusate", "gastrointestinal", ("100 mg",), reasons=("constipation",), brands=("Colace",)),
    DrugName("senna", "gastrointestinal", ("8.6 mg",), reasons=("constipation",)),
    DrugName("lactulose", "gastrointestinal", ("10 g", "20 g", "30 mL"), reasons=("hepatic encephalopathy", "constipation")),
    DrugName("loperamide", "gastrointestinal", ("2 mg",), reasons=("diarrhea",), brands=("Imodium",)),
    DrugName("esomeprazole", "gastrointestinal", ("20 mg", "40 mg"), held_out=True, reasons=("GERD", "GI prophylaxis"), brands=("Nexium",)),
    DrugName("bisacodyl", "gastrointestinal", ("5 mg", "10 mg"), held_out=True, routes=("oral", "rectal"), reasons=("constipation",), brands=("Dulcolax",)),
    DrugName("lansoprazole", "gastrointestinal", ("15 mg", "30 mg"), held_out=True, reasons=("GERD",)),
    DrugName("famotidine", "gastrointestinal", ("20 mg", "40 mg"), held_out=True, reasons=("GERD", "GI prophylaxis")),
    DrugName("rifaximin", "gastrointestinal", ("550 mg",), held_out=True, reasons=("hepatic encephalopathy",)),
    # respiratory
    DrugName("albuterol", "respiratory", ("90 mcg", "2.5 mg", "0.083%")),
    DrugName("ipratropium", "respiratory", ("0.02%", "17 mcg")),
    DrugName("fluticasone", "respiratory", ("110 mcg", "250 mcg"), brands=("Flovent",)),
    DrugName("tiotropium", "respiratory", ("18 mcg",), brands=("Spiriva",)),
    DrugName("salmeterol", "respiratory", ("50 mcg",), held_out=True),
    DrugName("budesonide", "respiratory", ("0.5 mg", "160 mcg"), held_out=True),
    DrugName("formoterol", "respiratory", ("20 mcg",), held_out=True),
    DrugName("levalbuterol", "respiratory", ("0.63 mg", "45 mcg"), held_out=True, brands=("Xopenex",)),
    # lipid lowering and antiplatelets
    DrugName("atorvastatin", "lipid_antiplatelet", ("10 mg", "20 mg", "40 mg", "80 mg"), brands=("Lipitor",)),
    DrugName("simvastatin", "lipid_antiplatelet", ("20 mg", "40 mg")),
    DrugName("aspirin", "lipid_antiplatelet", ("81 mg", "325 mg"), reasons=("coronary artery disease", "CAD", "stroke prevention", "stent")),
    DrugName("clopidogrel", "lipid_antiplatelet", ("75 mg",), brands=("Plavix",)),
    DrugName("rosuvastatin", "lipid_antiplatelet", ("5 mg", "10 mg", "20 mg"), held_out=True, brands=("Crestor",)),
    DrugName("pravastatin", "lipid_antiplatelet", ("20 mg", "40 mg"), held_out=True),
    DrugName("ticagrelor", "lipid_antiplatelet", ("90 mg",), held_out=True, brands=("Brilinta",)),
    DrugName("prasugrel", "lipid_antiplatelet", ("10 mg",), held_out=True),
    # psychiatric and neurologic
    DrugName("haloperidol", "psychiatric_neurologic", ("0.5 mg", "1 mg", "2 mg", "5 mg"), routes=("oral", "iv", "im"), reasons=("agitation", "delirium")),
    DrugName("quetiapine", "psychiatric_neurologic", ("25 mg", "50 mg", "100 mg"), reasons=("agitation", "insomnia", "delirium"), brands=("Seroquel",)),
    DrugName("lorazepam", "psychiatric_neurologic", ("0.5 mg", "1 mg", "2 mg"), routes=("oral", "iv"), reasons=("anxiety", "insomnia", "seizures", "agitation"), brands=("Ativan",)),
    DrugName("sertraline", "psychiatric_neurologic", ("25 mg", "50 mg", "100 mg"), reasons=("depression", "anxiety")),
    DrugName("gabapentin", "psychiatric_neurologic", ("100 mg", "300 mg", "600 mg"), reasons=("neuropathic pain", "pain")),
    DrugName("levetiracetam", "psychiatric_neurologic", ("500 mg", "750 mg", "1,000 mg"), routes=("oral", "iv"), reasons=("seizures",), brands=("Keppra",)),
    DrugName("olanzapine", "psychiatric_neurologic", ("2.5 mg", "5 mg", "10 mg"), held_out=True, reasons=("agitation", "delirium")),
    DrugName("risperidone", "psychiatric_neurologic", ("0.5 mg", "1 mg"), held_out=True, reasons=("agitation", "delirium")),
    DrugName("clonazepam", "psychiatric_neurologic", ("0.5 mg", "1 mg"), held_out=True, reasons=("anxiety", "seizures")),
    DrugName("citalopram", "psychiatric_neurologic", ("10 mg", "20 mg"), held_out=True, reasons=("depression", "anxiety"), brands=("Celexa",)),
    DrugName("pregabalin", "psychiatric_neurologic", ("75 mg", "150 mg"), held_out=True, reasons=("neuropathic pain",), brands=("Lyrica",)),
    DrugName("phenytoin", "psychiatric_neurologic", ("100 mg", "300 mg"), held_out=True, reasons=("seizures",), brands=("Dilantin",)),
    DrugName("trazodone", "psychiatric_neurologic", ("25 mg", "50 mg"), held_out=True, reasons=("insomnia",)),
    # other cardiac
    DrugName("digoxin", "cardiac", ("0.125 mg", "0.25 mg"), reasons=("atrial fibrillation", "heart failure")),
    DrugName("amiodarone", "cardiac", ("200 mg", "400 mg"), routes=("oral", "iv"), reasons=("atrial fibrillation", "ventricular tachycardia")),
    DrugName("nitroglycerin", "cardiac", ("0.4 mg",), routes=("sl",), reasons=("chest pain", "angina")),
    DrugName("isosorbide mononitrate", "cardiac", ("30 mg", "60 mg"), held_out=True, reasons=("angina", "chest pain"), brands=("Imdur",)),
    DrugName("hydralazine", "cardiac", ("10 mg", "25 mg", "50 mg"), held_out=True, routes=("oral", "iv"), reasons=("hypertension", "heart failure")),
    DrugName("sotalol", "cardiac", ("80 mg", "120 mg"), held_out=True, reasons=("atrial fibrillation",)),
    DrugName("ranolazine", "cardiac", ("500 mg",), held_out=True, reasons=("angina",), brands=("Ranexa",)),
)

# Conditions mentioned outside any drug context: not annotated in n2c2 (no drug relation),
# so a condition word on its own says nothing about Reason or ADE.
HISTORY_CONDITIONS: tuple[str, ...] = (
    "hypertension", "hyperlipidemia", "diabetes", "atrial fibrillation", "CHF", "COPD", "CAD", "CKD",
    "rash", "nausea", "hypotension", "bradycardia", "hyperkalemia", "angioedema", "constipation",
    "diarrhea", "pain", "edema", "anxiety", "depression", "GERD", "pneumonia", "cellulitis", "seizures",
    "hypoglycemia", "bleeding", "headache", "dizziness", "chest pain", "shortness of breath", "fever",
)

SYMPTOMS_DENIED: tuple[str, ...] = (
    "fever", "chills", "nausea", "vomiting", "rash", "chest pain", "shortness of breath", "dizziness",
    "diarrhea", "constipation", "headache", "bleeding", "pruritus", "cough", "palpitations",
)
