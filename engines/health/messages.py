"""What each health finding means for the project and what to do, in Korean and English.

Texts are templates filled with the finding's numbers (``str.format``). Keeping them
together lets a consultant review the wording without reading the checks.
"""

from __future__ import annotations

from typing import Any

TEXTS: dict[str, dict[str, dict[str, str]]] = {
    "amount": {
        "title": {"en": "Amount of data", "ko": "데이터 양"},
        "meaning": {
            "en": "{claimed_sentence}{n_images:,} images are usable; after removing "
                  "duplicates, {effective_n_images:,} are effectively distinct "
                  "({band_en}). The advice and the learning curve use the effective amount.",
            "ko": "{claimed_sentence_ko}사용 가능한 이미지는 {n_images:,}장이며, 중복을 빼면 "
                  "실질적으로 서로 다른 이미지는 {effective_n_images:,}장입니다({band_ko}). "
                  "권고와 학습 곡선은 이 실질 수량을 기준으로 합니다.",
        },
        "action": {
            "en": "Plan labels and collection against the effective amount, not the file count.",
            "ko": "라벨링과 추가 수집 계획은 파일 수가 아니라 실질 수량을 기준으로 세우세요.",
        },
    },
    "unusable-files": {
        "title": {"en": "Files that could not be used", "ko": "사용할 수 없는 파일"},
        "meaning": {
            "en": "{n_skipped:,} files were left out ({n_broken_images:,} broken or unreadable "
                  "images, {n_other:,} other files); the other {n_images:,} images are used. "
                  "Each file is listed with its reason.",
            "ko": "{n_skipped:,}개 파일을 제외했습니다(손상되었거나 읽을 수 없는 이미지 "
                  "{n_broken_images:,}개, 기타 파일 {n_other:,}개). 나머지 이미지 {n_images:,}장은 "
                  "사용합니다. 파일별 제외 사유가 목록에 있습니다.",
        },
        "action": {
            "en": "Ask the client to re-export the broken files; check that the same problem "
                  "does not affect their full archive.",
            "ko": "손상된 파일은 고객에게 다시 받아 주세요. 전체 원본에도 같은 문제가 있는지 "
                  "확인이 필요합니다.",
        },
    },
    "single-class": {
        "title": {"en": "Only one class", "ko": "클래스가 하나뿐임"},
        "meaning": {
            "en": "All labelled images carry the label '{label}'. A classifier cannot be "
                  "trained or validated on one class.",
            "ko": "라벨이 있는 모든 이미지가 '{label}' 한 가지입니다. 클래스가 하나면 분류 "
                  "모델을 학습하거나 검증할 수 없습니다.",
        },
        "action": {
            "en": "Ask for examples of the other classes (e.g. normal vs defect), or treat the "
                  "task as anomaly detection on input-only data.",
            "ko": "다른 클래스(예: 정상 대 불량)의 예시를 요청하거나, 입력만 있는 데이터로 "
                  "이상 탐지 문제로 접근하세요.",
        },
    },
    "class-imbalance": {
        "title": {"en": "Class imbalance", "ko": "클래스 불균형"},
        "meaning": {
            "en": "The largest class ('{largest}', {largest_count:,}) has {ratio:.1f} times the "
                  "images of the smallest ('{smallest}', {smallest_count:,}). Accuracy alone will "
                  "look good while the small class is missed.",
            "ko": "가장 큰 클래스('{largest}', {largest_count:,}장)가 가장 작은 클래스"
                  "('{smallest}', {smallest_count:,}장)의 {ratio:.1f}배입니다. 정확도만 보면 "
                  "좋아 보여도 작은 클래스를 놓칠 수 있습니다.",
        },
        "action": {
            "en": "Report balanced accuracy or per-class recall, use class weights or "
                  "re-sampling, and collect more of the small classes first.",
            "ko": "균형 정확도나 클래스별 재현율로 평가하고, 클래스 가중치나 재샘플링을 쓰며, "
                  "작은 클래스부터 추가 수집하세요.",
        },
    },
    "small-classes": {
        "title": {"en": "Classes with very few images", "ko": "이미지가 매우 적은 클래스"},
        "meaning": {
            "en": "{n_small} classes have fewer than {min_images} images (smallest: {smallest} "
                  "with {smallest_count}). Their accuracy cannot be measured reliably; a class "
                  "with one image cannot be both trained and tested.",
            "ko": "{n_small}개 클래스가 {min_images}장 미만입니다(가장 작은 클래스: "
                  "{smallest}, {smallest_count}장). 이 클래스들의 정확도는 신뢰성 있게 측정할 "
                  "수 없고, 1장뿐인 클래스는 학습과 평가에 동시에 쓸 수 없습니다.",
        },
        "action": {
            "en": "Collect at least 20-50 images for each of these classes, or merge them "
                  "into a broader class for now.",
            "ko": "해당 클래스마다 최소 20~50장을 모으거나, 당분간 상위 클래스로 합치세요.",
        },
    },
    "exact-duplicates-within-class": {
        "title": {"en": "Identical files within a class", "ko": "클래스 내 동일 파일"},
        "meaning": {
            "en": "{n_groups:,} groups of byte-identical files ({n_redundant:,} redundant "
                  "copies, {percent:.1f}% of the images). They inflate the amount and, split "
                  "across train and test, inflate the measured accuracy.",
            "ko": "바이트 단위로 동일한 파일 묶음이 {n_groups:,}개 있습니다(불필요한 사본 "
                  "{n_redundant:,}장, 전체의 {percent:.1f}%). 데이터 양을 부풀리고, 학습과 "
                  "평가에 나뉘어 들어가면 정확도도 부풀립니다.",
        },
        "action": {
            "en": "Keep one copy of each; the validation already does, and counts the "
                  "effective amount.",
            "ko": "묶음마다 하나만 남기세요. 검증 단계는 이미 하나만 쓰고 실질 수량을 셉니다.",
        },
    },
    "exact-duplicates-across-classes": {
        "title": {"en": "The same file under different labels", "ko": "같은 파일에 다른 라벨"},
        "meaning": {
            "en": "{n_groups:,} files appear under two or more labels ({n_images:,} images "
                  "involved). At least one label of each is wrong, or the classes overlap.",
            "ko": "{n_groups:,}개 파일이 서로 다른 라벨로 중복되어 있습니다(관련 이미지 "
                  "{n_images:,}장). 각각 최소 하나의 라벨은 틀렸거나 클래스 정의가 겹칩니다.",
        },
        "action": {
            "en": "Ask the client who labelled these and which label is right; clarify the "
                  "class definitions before labelling more.",
            "ko": "누가 라벨링했는지, 어느 라벨이 맞는지 고객에게 확인하고, 추가 라벨링 전에 "
                  "클래스 정의를 명확히 하세요.",
        },
    },
    "near-duplicates-within-class": {
        "title": {"en": "Near-duplicates within a class", "ko": "클래스 내 유사 중복"},
        "meaning": {
            "en": "{n_groups:,} groups of near-identical images ({n_redundant:,} redundant, "
                  "{percent:.1f}% of the images; {method}). The real variety is smaller than "
                  "the file count, and a random split leaks copies into the test set.",
            "ko": "거의 같은 이미지 묶음이 {n_groups:,}개 있습니다(불필요한 이미지 "
                  "{n_redundant:,}장, 전체의 {percent:.1f}%; {method}). 실제 다양성은 파일 "
                  "수보다 작고, 무작위 분할 시 사본이 평가 세트로 새어 들어갑니다.",
        },
        "action": {
            "en": "Split by group (series, part, patient, day), not by image, and count the "
                  "effective amount; ask how the images were captured (bursts, video frames?).",
            "ko": "이미지 단위가 아니라 묶음(촬영 시리즈, 부품, 환자, 날짜) 단위로 나누고 실질 "
                  "수량으로 판단하세요. 촬영 방식(연속 촬영, 영상 프레임 여부)을 확인하세요.",
        },
    },
    "near-duplicates-across-classes": {
        "title": {"en": "Near-identical images with different labels",
                  "ko": "거의 같은 이미지에 다른 라벨"},
        "meaning": {
            "en": "{n_groups:,} groups of near-identical images carry different labels "
                  "({n_images:,} images; {method}). Either labels are inconsistent or the "
                  "classes differ by something the image barely shows.",
            "ko": "거의 같은 이미지 묶음 {n_groups:,}개가 서로 다른 라벨을 가지고 있습니다"
                  "(이미지 {n_images:,}장; {method}). 라벨이 일관되지 않거나, 클래스 차이가 "
                  "이미지에 거의 드러나지 않는 경우입니다.",
        },
        "action": {
            "en": "Review these pairs with the client's domain expert; if the difference is "
                  "real but subtle, plan for higher resolution or a different input.",
            "ko": "고객 측 도메인 전문가와 함께 이 묶음을 검토하세요. 차이가 실제로 미세하다면 "
                  "더 높은 해상도나 다른 입력을 고려해야 합니다.",
        },
    },
    "possible-near-duplicates": {
        "title": {"en": "Possible near-duplicates (pixel hash)",
                  "ko": "유사 중복 가능성(픽셀 해시)"},
        "meaning": {
            "en": "{n_groups:,} groups ({n_images:,} images, {n_cross_class:,} groups across "
                  "classes) look alike by a coarse pixel hash ({method}). On uniform textures "
                  "this hash also matches different images, so they are not subtracted from "
                  "the amount until the embedding check confirms them.",
            "ko": "거친 픽셀 해시({method})로 보아 비슷한 묶음이 {n_groups:,}개 있습니다(이미지 "
                  "{n_images:,}장, 클래스가 다른 묶음 {n_cross_class:,}개). 균일한 질감에서는 "
                  "서로 다른 이미지도 이 해시가 같을 수 있으므로, 임베딩 검사로 확인되기 전에는 "
                  "데이터 양에서 빼지 않습니다.",
        },
        "action": {
            "en": "Run the validation step to confirm them with the backbone's embeddings; "
                  "meanwhile look at the example pairs.",
            "ko": "검증 단계를 실행해 백본 임베딩으로 확인하세요. 그 전에는 예시 묶음을 직접 "
                  "살펴보세요.",
        },
    },
    "suspected-label-errors": {
        "title": {"en": "Labels that look wrong", "ko": "오류가 의심되는 라벨"},
        "meaning": {
            "en": "{n_issues:,} images ({percent:.1f}% of {n_evaluated:,} checked) are "
                  "confidently predicted as another class by a model that never saw them; "
                  "estimated label noise {noise_percent:.1f}% (confident learning, Northcutt "
                  "et al. 2021). Label noise caps the accuracy any model can show."
                  "{caveat_en}",
            "ko": "검사한 {n_evaluated:,}장 중 {n_issues:,}장({percent:.1f}%)이 해당 이미지를 "
                  "보지 않은 모델에 의해 다른 클래스로 확신 있게 예측됩니다. 추정 라벨 오류율은 "
                  "{noise_percent:.1f}%입니다(confident learning, Northcutt 외 2021). 라벨 "
                  "오류는 어떤 모델이든 보여 줄 수 있는 정확도의 상한을 낮춥니다."
                  "{caveat_ko}",
        },
        "action": {
            "en": "Have an expert re-check the listed images first (they are ranked); agree on "
                  "a labelling guide and measure agreement between two labellers.",
            "ko": "목록의 이미지(의심도 순)를 전문가가 먼저 재검토하게 하고, 라벨링 기준서를 "
                  "합의한 뒤 두 명의 라벨러 간 일치도를 측정하세요.",
        },
    },
    "label-check-not-run": {
        "title": {"en": "Label check not run", "ko": "라벨 검사 미실행"},
        "meaning": {
            "en": "Suspected label errors were not checked: {reason}.",
            "ko": "라벨 오류 검사를 하지 않았습니다: {reason_ko}.",
        },
        "action": {
            "en": "Run the validation step (it computes the embeddings), or add images so "
                  "that each class has at least two.",
            "ko": "검증 단계를 실행하거나(임베딩 계산), 클래스마다 최소 2장이 되도록 이미지를 "
                  "추가하세요.",
        },
    },
    "dark-images": {
        "title": {"en": "Very dark images", "ko": "매우 어두운 이미지"},
        "meaning": {
            "en": "{n:,} images ({percent:.1f}%) have a mean brightness below {threshold:.0f}/255: "
                  "detail is lost in noise.",
            "ko": "{n:,}장({percent:.1f}%)의 평균 밝기가 {threshold:.0f}/255 미만입니다. "
                  "세부 정보가 노이즈에 묻힙니다.",
        },
        "action": {
            "en": "Check the lighting or exposure at capture; if it is how production images "
                  "look, keep them and add brightness augmentation.",
            "ko": "촬영 시 조명·노출을 점검하세요. 실제 현장 이미지도 이렇다면 그대로 두고 밝기 "
                  "증강을 추가하세요.",
        },
    },
    "overexposed-images": {
        "title": {"en": "Overexposed images", "ko": "과노출 이미지"},
        "meaning": {
            "en": "{n:,} images ({percent:.1f}%) have a mean brightness above {threshold:.0f}/255.",
            "ko": "{n:,}장({percent:.1f}%)의 평균 밝기가 {threshold:.0f}/255를 넘습니다.",
        },
        "action": {
            "en": "Check the exposure settings at capture.",
            "ko": "촬영 노출 설정을 점검하세요.",
        },
    },
    "blank-images": {
        "title": {"en": "Blank images", "ko": "빈 이미지"},
        "meaning": {
            "en": "{n:,} images ({percent:.1f}%) are almost uniform (no content): lens cap, "
                  "empty scan or export error.",
            "ko": "{n:,}장({percent:.1f}%)이 거의 단색입니다(내용 없음). 렌즈 캡, 빈 스캔, "
                  "내보내기 오류일 수 있습니다.",
        },
        "action": {
            "en": "Remove them or ask for the originals.",
            "ko": "제거하거나 원본을 다시 요청하세요.",
        },
    },
    "blurry-images": {
        "title": {"en": "Blurry images", "ko": "흐린 이미지"},
        "meaning": {
            "en": "{n:,} images ({percent:.1f}%) are much less sharp than expected "
                  "(variance of the Laplacian below {threshold:.0f}).",
            "ko": "{n:,}장({percent:.1f}%)이 예상보다 훨씬 흐립니다(라플라시안 분산 "
                  "{threshold:.0f} 미만).",
        },
        "action": {
            "en": "Check focus and motion at capture; if production images are also blurry, "
                  "keep them so that the model learns from them.",
            "ko": "촬영 시 초점과 흔들림을 점검하세요. 실제 현장 이미지도 흐리다면 모델이 "
                  "학습하도록 그대로 두세요.",
        },
    },
    "low-resolution-images": {
        "title": {"en": "Low-resolution images", "ko": "저해상도 이미지"},
        "meaning": {
            "en": "{n:,} images ({percent:.1f}%) are smaller than {threshold:.0f} px on the short "
                  "side; a 224-px backbone sees them upsampled and small defects vanish.",
            "ko": "{n:,}장({percent:.1f}%)의 짧은 변이 {threshold:.0f}px 미만입니다. 224px "
                  "백본에는 확대되어 들어가므로 작은 결함이 사라집니다.",
        },
        "action": {
            "en": "Ask whether higher-resolution originals exist (thumbnails are often sent).",
            "ko": "고해상도 원본이 있는지 확인하세요(썸네일이 전달되는 경우가 많습니다).",
        },
    },
    "mixed-channels": {
        "title": {"en": "Grayscale and colour mixed", "ko": "흑백과 컬러 혼재"},
        "meaning": {
            "en": "{n_gray:,} images are grayscale and {n_colour:,} colour. If colour follows "
                  "the class or the source, the model may learn the source instead of the "
                  "content.",
            "ko": "흑백 {n_gray:,}장과 컬러 {n_colour:,}장이 섞여 있습니다. 색상 여부가 클래스나 "
                  "출처와 연관되면 모델이 내용 대신 출처를 학습할 수 있습니다.",
        },
        "action": {
            "en": "Check whether colour differs by class; if so, convert all to grayscale.",
            "ko": "클래스별로 컬러 여부가 다른지 확인하고, 다르다면 모두 흑백으로 변환하세요.",
        },
    },
    "unlabeled-images": {
        "title": {"en": "Images without a label", "ko": "라벨 없는 이미지"},
        "meaning": {
            "en": "{n:,} of {n_images:,} images have no label; they are not used for "
                  "classification.",
            "ko": "{n_images:,}장 중 {n:,}장에 라벨이 없어 분류 학습에 쓰이지 않습니다.",
        },
        "action": {
            "en": "Label them, or keep them for self-supervised or semi-supervised learning.",
            "ko": "라벨을 붙이거나, 자기지도·준지도 학습용으로 활용하세요.",
        },
    },
    "images-without-annotation": {
        "title": {"en": "Images without masks or boxes", "ko": "마스크·박스 없는 이미지"},
        "meaning": {
            "en": "{n:,} of {n_images:,} images have no {what_en}. For training they count as "
                  "'nothing to find', which is right only if they really are defect-free.",
            "ko": "{n_images:,}장 중 {n:,}장에 {what_ko}이(가) 없습니다. 학습에서는 '찾을 것이 "
                  "없음'으로 취급되므로, 실제로 결함이 없는 이미지일 때만 맞습니다.",
        },
        "action": {
            "en": "Confirm with the client that these are negatives, or annotate them.",
            "ko": "이 이미지들이 정상(음성) 예시인지 고객에게 확인하거나 주석을 추가하세요.",
        },
    },
}

SEVERITIES = ("info", "warning", "critical")


def render(finding_id: str, **numbers: Any) -> dict[str, dict[str, str]]:
    """Fill the title, meaning and action texts of a finding in both languages.

    Args:
        finding_id: A key of :data:`TEXTS`.
        **numbers: Values for the templates.

    Returns:
        ``{"title": {"en", "ko"}, "meaning": {...}, "action": {...}}``.

    """
    texts = TEXTS[finding_id]
    return {part: {lang: template.format(**numbers) for lang, template in texts[part].items()}
            for part in ("title", "meaning", "action")}
