from ingest.text import normalize, normalize_brackets, tidy


def test_nfkc_folds_full_width():
    assert normalize("８％") == "8%"
    assert normalize("（一）") == "(一)"


def test_no_space_between_cjk_and_digits():
    assert normalize("30 个") == "30个"
    assert normalize("到 2025 年，达到 50 个左右") == "到2025年,达到50个左右"
    assert normalize("2023年 11月 1日") == "2023年11月1日"


def test_latin_words_keep_their_spaces():
    assert normalize("Hello world") == "Hello world"


def test_tidy_keeps_original_characters():
    assert tidy("不超过8000 万元（２０％）") == "不超过8000万元（２０％）"


def test_brackets_fold_for_doc_numbers():
    assert (
        normalize_brackets("国发〔2019〕4号")
        == normalize_brackets("国发[2019]4号")
        == "国发(2019)4号"
    )
