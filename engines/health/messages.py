"""What each health finding means for the project and what to do, in English.

The findings are stored as codes (the finding's ``id``) with their ``params``; the
wording shown to users, in Korean and English, lives in the locale files under
``engine.health.<id>.title|meaning|action`` (and ``engine.<code>`` for the phrases
inserted into them). The English here is written into result.json beside the codes,
for readers that do not know a code; a test keeps it equal to the English locale file.
"""

from __future__ import annotations

from typing import Any

TEXTS: dict[str, dict[str, str]] = {
    "amount": {
        "title": ("Amount of data"),
        "meaning": (
            "{claimed}{n_images:,} images are usable; after removing "
            "duplicates, {effective_n_images:,} are effectively distinct ({band}). The "
            "advice and the learning curve use the effective amount."
        ),
        "action": ("Plan labels and collection against the effective amount, not the file count."),
    },
    "unusable-files": {
        "title": ("Files that could not be used"),
        "meaning": (
            "{n_skipped:,} files were left out ({n_broken_images:,} "
            "broken or unreadable images, {n_other:,} other files); the other {n_images:,} "
            "images are used. Each file is listed with its reason."
        ),
        "action": (
            "Ask the client to re-export the broken files; check that "
            "the same problem does not affect their full archive."
        ),
    },
    "single-class": {
        "title": ("Only one class"),
        "meaning": (
            "All labelled images carry the label '{label}'. A classifier "
            "cannot be trained or validated on one class."
        ),
        "action": (
            "Ask for examples of the other classes (e.g. normal vs "
            "defect), or treat the task as anomaly detection on input-only data."
        ),
    },
    "class-imbalance": {
        "title": ("Class imbalance"),
        "meaning": (
            "The largest class ('{largest}', {largest_count:,}) has "
            "{ratio:.1f} times the images of the smallest ('{smallest}', "
            "{smallest_count:,}). Accuracy alone will look good while the small class is "
            "missed."
        ),
        "action": (
            "Report balanced accuracy or per-class recall, use class "
            "weights or re-sampling, and collect more of the small classes first."
        ),
    },
    "small-classes": {
        "title": ("Classes with very few images"),
        "meaning": (
            "{n_small} classes have fewer than {min_images} images "
            "(smallest: {smallest} with {smallest_count}). Their accuracy cannot be measured "
            "reliably; a class with one image cannot be both trained and tested."
        ),
        "action": (
            "Collect at least 20-50 images for each of these classes, or "
            "merge them into a broader class for now."
        ),
    },
    "exact-duplicates-within-class": {
        "title": ("Identical files within a class"),
        "meaning": (
            "{n_groups:,} groups of byte-identical files "
            "({n_redundant:,} redundant copies, {percent:.1f}% of the images). They inflate "
            "the amount and, split across train and test, inflate the measured accuracy."
        ),
        "action": (
            "Keep one copy of each; the validation already does, and counts the effective amount."
        ),
    },
    "exact-duplicates-across-classes": {
        "title": ("The same file under different labels"),
        "meaning": (
            "{n_groups:,} files appear under two or more labels "
            "({n_images:,} images involved). At least one label of each is wrong, or the "
            "classes overlap."
        ),
        "action": (
            "Ask the client who labelled these and which label is right; "
            "clarify the class definitions before labelling more."
        ),
    },
    "near-duplicates-within-class": {
        "title": ("Near-duplicates within a class"),
        "meaning": (
            "{n_groups:,} groups of near-identical images "
            "({n_redundant:,} redundant, {percent:.1f}% of the images; {method}). The real "
            "variety is smaller than the file count, and a random split leaks copies into "
            "the test set."
        ),
        "action": (
            "Split by group (series, part, patient, day), not by image, "
            "and count the effective amount; ask how the images were captured (bursts, video "
            "frames?)."
        ),
    },
    "near-duplicates-across-classes": {
        "title": ("Near-identical images with different labels"),
        "meaning": (
            "{n_groups:,} groups of near-identical images carry "
            "different labels ({n_images:,} images; {method}). Either labels are "
            "inconsistent or the classes differ by something the image barely shows."
        ),
        "action": (
            "Review these pairs with the client's domain expert; if the "
            "difference is real but subtle, plan for higher resolution or a different input."
        ),
    },
    "possible-near-duplicates": {
        "title": ("Possible near-duplicates (pixel hash)"),
        "meaning": (
            "{n_groups:,} groups ({n_images:,} images, {n_cross_class:,} "
            "groups across classes) look alike by a coarse pixel hash ({method}). On uniform "
            "textures this hash also matches different images, so they are not subtracted "
            "from the amount until the embedding check confirms them."
        ),
        "action": (
            "Run the validation step to confirm them with the backbone's "
            "embeddings; meanwhile look at the example pairs."
        ),
    },
    "suspected-label-errors": {
        "title": ("Labels that look wrong"),
        "meaning": (
            "{n_issues:,} images ({percent:.1f}% of {n_evaluated:,} "
            "checked) are confidently predicted as another class by a model that never saw "
            "them; estimated label noise {noise_percent:.1f}% (confident learning, Northcutt "
            "et al. 2021). Label noise caps the accuracy any model can show.{caveat}"
        ),
        "action": (
            "Have an expert re-check the listed images first (they are "
            "ranked); agree on a labelling guide and measure agreement between two labellers."
        ),
    },
    "label-check-not-run": {
        "title": ("Label check not run"),
        "meaning": ("Suspected label errors were not checked: {reason}."),
        "action": (
            "Run the validation step (it computes the embeddings), or "
            "add images so that each class has at least two."
        ),
    },
    "dark-images": {
        "title": ("Very dark images"),
        "meaning": (
            "{n:,} images ({percent:.1f}%) have a mean brightness below "
            "{threshold:.0f}/255: detail is lost in noise."
        ),
        "action": (
            "Check the lighting or exposure at capture; if it is how "
            "production images look, keep them and add brightness augmentation."
        ),
    },
    "overexposed-images": {
        "title": ("Overexposed images"),
        "meaning": (
            "{n:,} images ({percent:.1f}%) have a mean brightness above {threshold:.0f}/255."
        ),
        "action": ("Check the exposure settings at capture."),
    },
    "blank-images": {
        "title": ("Blank images"),
        "meaning": (
            "{n:,} images ({percent:.1f}%) are almost uniform (no "
            "content): lens cap, empty scan or export error."
        ),
        "action": ("Remove them or ask for the originals."),
    },
    "blurry-images": {
        "title": ("Blurry images"),
        "meaning": (
            "{n:,} images ({percent:.1f}%) are much less sharp than "
            "expected (variance of the Laplacian below {threshold:.0f})."
        ),
        "action": (
            "Check focus and motion at capture; if production images are "
            "also blurry, keep them so that the model learns from them."
        ),
    },
    "low-resolution-images": {
        "title": ("Low-resolution images"),
        "meaning": (
            "{n:,} images ({percent:.1f}%) are smaller than "
            "{threshold:.0f} px on the short side; a 224-px backbone sees them upsampled and "
            "small defects vanish."
        ),
        "action": ("Ask whether higher-resolution originals exist (thumbnails are often sent)."),
    },
    "mixed-channels": {
        "title": ("Grayscale and colour mixed"),
        "meaning": (
            "{n_gray:,} images are grayscale and {n_colour:,} colour. If "
            "colour follows the class or the source, the model may learn the source instead "
            "of the content."
        ),
        "action": ("Check whether colour differs by class; if so, convert all to grayscale."),
    },
    "unlabeled-images": {
        "title": ("Images without a label"),
        "meaning": (
            "{n:,} of {n_images:,} images have no label; they are not used for classification."
        ),
        "action": ("Label them, or keep them for self-supervised or semi-supervised learning."),
    },
    "images-without-annotation": {
        "title": ("Images without masks or boxes"),
        "meaning": (
            "{n:,} of {n_images:,} images have no {what}. For training "
            "they count as 'nothing to find', which is right only if they really are "
            "defect-free."
        ),
        "action": ("Confirm with the client that these are negatives, or annotate them."),
    },
}
"""Title, meaning and action templates of each finding, filled with its params."""

PHRASES: dict[str, str] = {
    "health_claimed": ("The client said {n:,} images; "),
    "health_band_a_lot": ("a lot: 10,000 or more"),
    "health_band_few": ("few: 1,000 to 9,999"),
    "health_band_very_few": ("very few: under 1,000"),
    "label_check_no_embeddings": ("no embeddings were given"),
    "label_check_too_few_classes": ("needs at least two classes with two or more images each"),
    "label_check_too_few_per_class": ("too few images per class for cross-validation"),
    "label_check_no_labels": ("the data has no labels"),
    "label_check_other": ("{error}"),
    "label_caveat_weak_model": (
        " Caution: the embeddings separate the classes only to "
        "{accuracy_percent:.0f}% cross-validated accuracy, so part of these are hard "
        "images rather than wrong labels."
    ),
    "annotation_mask": ("mask"),
    "annotation_box": ("box"),
    "dup_method_sha256": ("identical bytes"),
    "dup_method_dhash": ("difference hash within {bits} bits"),
    "dup_method_cosine": ("embedding cosine ≥ {threshold:.2f}"),
    "dup_method_cosine_centred": ("embedding cosine ≥ {threshold:.2f}, mean-centred"),
}
"""Phrases inserted into the templates as nested messages (``{"code", "params"}``)."""

SEVERITIES = ("info", "warning", "critical")


def phrase(code: str, **params: Any) -> dict[str, Any]:
    """A nested message for a template parameter (rendered in each language)."""
    if code not in PHRASES:
        raise KeyError(f"Unknown health phrase {code!r}; add it to PHRASES and the locales.")
    return {"code": code, "params": params}


def english(value: Any) -> Any:
    """A parameter as the English template sees it: nested messages rendered."""
    if isinstance(value, dict) and "code" in value:
        return PHRASES[value["code"]].format(**value.get("params", {}))
    return "" if value is None else value


def render(finding_id: str, **params: Any) -> dict[str, dict[str, str]]:
    """Fill the English title, meaning and action of a finding.

    Args:
        finding_id: A key of :data:`TEXTS`.
        **params: Values for the templates; nested messages (:func:`phrase`) are
            rendered, None becomes an empty string.

    Returns:
        ``{"title": {"en"}, "meaning": {"en"}, "action": {"en"}}`` (the shape of
        result.json 1.x; the other languages come from the locale files).

    """
    values = {k: english(v) for k, v in params.items()}
    return {
        part: {"en": TEXTS[finding_id][part].format(**values)}
        for part in ("title", "meaning", "action")
    }
