"""Test-only writers of TCGA BCR-style clinical tables."""

HEADER = [
    "bcr_patient_uuid",
    "bcr_patient_barcode",
    "gender",
    "race",
    "vital_status",
    "last_contact_days_to",
    "death_days_to",
    "age_at_initial_pathologic_diagnosis",
]
DESCRIPTORS = [
    [
        "bcr_patient_uuid",
        "bcr_patient_barcode",
        "gender",
        "race",
        "vital_status",
        "days_to_last_followup",
        "days_to_death",
        "age_at_initial_pathologic_diagnosis",
    ],
    [
        "CDE_ID:",
        "CDE_ID:2673794",
        "CDE_ID:2200604",
        "CDE_ID:2192199",
        "CDE_ID:5",
        "CDE_ID:3008273",
        "CDE_ID:3165475",
        "CDE_ID:2006657",
    ],
]
NA, NAPP = "[Not Available]", "[Not Applicable]"


def write_bcr(path, rows, header=HEADER, descriptors=True):
    """Write a BCR-style clinical table: header, two descriptor rows, then ``rows``."""
    lines = [header, *(DESCRIPTORS if descriptors else []), *rows]
    path.write_text("\n".join("\t".join(map(str, r)) for r in lines) + "\n")
    return path


def row(barcode, vital, contact, death, age=60, gender="MALE", race="WHITE"):
    return ["uuid", barcode, gender, race, vital, contact, death, age]
