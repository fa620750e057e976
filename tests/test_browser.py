"""The HTML views in a real browser: Debian's headless Chromium, driven by Selenium through chromedriver.

For each view's file: no JavaScript error in the console, a screenshot that is not blank, and a scripted
interaction (another head, a hovered token, a toggle) that changes what is drawn. Large inputs: a
512-token page and a 12-layer × 12-head page hold every layer and head, stay under a stated size, and are
drawn within 2 s of navigation (a usability bound, the best of three loads; speed itself is measured in
benchmarks, not in tests). A 300-token page fits the screen, and hovering a token brings its strongest
line into view with the weight written out. The measured sizes are in docs/views.md.

``make setup`` installs chromium and chromium-driver (``make browser``); without them these tests fail and
say so. ``python tests/test_browser.py`` redraws the screenshots under ``docs/`` with the same code.
"""

from __future__ import annotations

import io
import math
import shutil
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from minisbert import BertConfig, BertModel, views  # noqa: E402

OPEN_WITHIN_MS = 2000  # navigation start to the last panel drawn, on the 512-token and 12 × 12 pages
SENTENCE = "The animal didn't cross the street because it was too tired."
OTHER = "The tired animal stayed on the pavement."
SENTENCES = ["A man is playing a guitar.", "Someone plays an instrument.", "A man is playing the flute.",
             "A cat sleeps on the sofa.", "The kitten is asleep.", "A dog runs in the park.",
             "Stock markets fell sharply today.", "Shares dropped on Wall Street."]
GROUPS = ["music", "music", "music", "pets", "pets", "pets", "money", "money"]


def make_pages(model, folder: Path) -> dict[str, Path]:
    """One file per view, on the real model (the files the tests open and the screenshots show)."""
    made = {
        "head": views.head_view(model, SENTENCE, layer=2, heads=[0, 5]),
        "model": views.model_view(model, SENTENCE),
        "neuron": views.neuron_view(model, SENTENCE, layer=2, head=5, query=11),
        "pair": views.pair_view(model, SENTENCE, OTHER, layer=2, heads=[5]),
        "similarity": views.similarity_view(model, SENTENCES),
        "pca": views.pca_view(model, SENTENCES, labels=GROUPS),
    }
    return {name: view.save(folder / f"view_{name}.html") for name, view in made.items()}


# Large inputs: every layer and head stays in the page, under these sizes

MAX_MB_512 = 48  # all-MiniLM-L6-v2 (6 layers × 12 heads), 512 tokens, head + model views
MAX_MB_12x12 = 32  # a 12-layer × 12-head model, 256 tokens, head + model views


def long_text(n_words: int = 600) -> str:
    words = ("the quick brown fox jumps over the lazy dog while seven wizards quietly judge boxing matches "
             "near a foggy harbour at dawn").split()
    return " ".join(words[i % len(words)] for i in range(n_words))


def big_model_12x12() -> BertModel:
    """A random 12-layer, 12-head BERT (hidden 96: small weights, the attention shape of BERT-base), with 256
    positions: a long text fills them."""
    torch.manual_seed(0)
    return BertModel(BertConfig(vocab_size=30522, hidden_size=96, num_hidden_layers=12, num_attention_heads=12,
                                intermediate_size=384, max_position_embeddings=256)).eval()


def shape(rows: list) -> tuple:
    """The shape of nested lists of rows (cheaper than a tensor of 19 million numbers), checked to be full."""
    dims = (len(rows), len(rows[0]), len(rows[0][0]), len(rows[0][0][0]))
    assert sum(len(row) for layer in rows for head in layer for row in head) == math.prod(dims)
    return dims


# ----------------------------------------------------------------------------------------------------
# The browser


def start_browser(width: int = 1200, height: int = 900):
    """Headless Chromium with its console log kept, or a failure that names the set-up command."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.fail("headless Chromium is missing (chromium and chromedriver on PATH): run `make setup` "
                    "(or `make browser`, which runs apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # console messages and uncaught errors
    return webdriver.Chrome(service=Service(driver), options=options)


def open_page(browser, path: Path) -> float:
    """Load ``path``; the ms from navigation start to the page's last panel drawn (its ``data-rendered``)."""
    browser.get(path.resolve().as_uri())
    rendered = browser.execute_script("return document.body.dataset.rendered")
    assert rendered is not None, f"{path.name} did not finish drawing: {console_errors(browser)}"
    return float(rendered)


def console_errors(browser) -> list[str]:
    """SEVERE console entries since the last call: uncaught exceptions and console.error."""
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def screenshot(element_or_browser):
    from PIL import Image

    png = (element_or_browser.screenshot_as_png if hasattr(element_or_browser, "screenshot_as_png")
           else element_or_browser.get_screenshot_as_png())
    return Image.open(io.BytesIO(png)).convert("RGB")


def assert_not_blank(image, what: str) -> None:
    colours = image.getcolors(maxcolors=1 << 20) or []
    ink = sum(n for n, rgb in colours if min(rgb) < 235) / (image.width * image.height)
    assert len(colours) > 30 and ink > 0.01, f"{what} looks blank: {len(colours)} colours, {ink:.1%} not white"


def assert_changed(before, after, what: str) -> None:
    from PIL import ImageChops

    assert before.size != after.size or ImageChops.difference(before, after).getbbox() is not None, \
        f"{what} changed nothing on screen"


# ----------------------------------------------------------------------------------------------------
# Tests: one browser for the module


@pytest.fixture(scope="module")
def browser():
    b = start_browser()
    yield b
    b.quit()


@pytest.fixture(scope="module")
def pages(real_sbert, tmp_path_factory):
    return make_pages(real_sbert, tmp_path_factory.mktemp("views"))


def hover(browser, element, dx: int = 0, dy: int = 0) -> None:
    from selenium.webdriver import ActionChains

    ActionChains(browser).move_to_element_with_offset(element, dx, dy).perform()


def interact(browser, name: str) -> list[tuple[str, object, callable]]:
    """Each view's interactions: (what, the element whose drawing should change, the action)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    find = lambda css: browser.find_element(By.CSS_SELECTOR, css)  # noqa: E731
    if name == "head":
        return [("another head", find("section.head"), lambda: find('.head-button[data-head="7"]').click()),
                ("a hovered token", find("section.head .columns"), lambda: hover(browser, find(".col.left .tok[data-index='3']")))]
    if name == "model":
        return [("a click on layer 4, head 9", find("section.head"), lambda: find('.thumb[data-layer="4"][data-head="9"]').click())]
    if name == "neuron":
        return [("another query token", find(".neuron-canvas"),
                 lambda: Select(find('section.neuron select[aria-label="query"]')).select_by_index(4))]
    if name == "pair":
        return [("attention A → B only", find("section.pair .columns"),
                 lambda: Select(find('section.pair select[aria-label="show"]')).select_by_index(1)),
                ("the bi-encoder toggle", find("section.pair .columns"), lambda: find(".bi-toggle").click())]
    if name == "similarity":
        return [("a hovered cell", find(".sim-canvas"), lambda: hover(browser, find(".sim-canvas"), 20, 20))]
    if name == "pca":
        canvas = find(".pca-canvas")
        x, y = browser.execute_script("return arguments[0].points[0]", canvas)
        size = canvas.size
        return [("a hovered point", canvas, lambda: hover(browser, canvas, round(x - size["width"] / 2), round(y - size["height"] / 2)))]
    raise KeyError(name)


@pytest.mark.parametrize("name", ["head", "model", "neuron", "pair", "similarity", "pca"])
def test_view_in_chromium(browser, pages, name):
    console_errors(browser)  # drop what earlier pages left
    open_page(browser, pages[name])
    assert_not_blank(screenshot(browser), f"view_{name}.html")
    for what, element, action in interact(browser, name):
        before = screenshot(element)
        action()
        assert_changed(before, screenshot(element), f"{name}: {what}")
    assert console_errors(browser) == []


@pytest.mark.slow
@pytest.mark.parametrize("size", ["512 tokens", "12 layers x 12 heads"])
def test_large_page_opens_quickly(browser, real_sbert, tmp_path, size):
    if size == "512 tokens":
        view = views.attention_page(real_sbert, long_text(), panels=("head", "model"))
        limit, dims = MAX_MB_512, (6, 12, 512, 512)
        assert "the view shows the first 512" in view.data["note"]
    else:
        view = views.attention_page(big_model_12x12(), long_text(), tokenizer=real_sbert.tokenizer,
                                    panels=("head", "model"))
        limit, dims = MAX_MB_12x12, (12, 12, 256, 256)
    assert shape(view.data["attention"]) == dims  # every layer and head, whole
    path = view.save(tmp_path / "large.html")
    assert path.stat().st_size < limit * 1e6
    console_errors(browser)
    times = [open_page(browser, path)]
    assert console_errors(browser) == []
    assert_not_blank(screenshot(browser), size)
    while min(times) >= OPEN_WITHIN_MS and len(times) < 3:  # the best of three: a busy machine is not the page
        times.append(open_page(browser, path))
    assert min(times) < OPEN_WITHIN_MS, f"the {size} page took {times} ms to draw"


# ----------------------------------------------------------------------------------------------------
# A long input: the page fits the screen, and a hovered token's strongest line and weight are in view

LONG_WORDS = 290  # with [CLS], [SEP] and the word pieces: a page of more than 300 tokens


def make_long_page(model, folder: Path) -> tuple[views.View, Path]:
    view = views.attention_page(model, long_text(LONG_WORDS), panels=("head", "model", "neuron"), layer=2, heads=[5])
    return view, view.save(folder / "view_long.html")


@pytest.fixture(scope="module")
def long_page(real_sbert, tmp_path_factory):
    return make_long_page(real_sbert, tmp_path_factory.mktemp("long"))


def rect(browser, element) -> dict:
    return browser.execute_script("const r = arguments[0].getBoundingClientRect();"
                                  "return {top: r.top, bottom: r.bottom, left: r.left, right: r.right};", element)


def hover_long_page(browser, query: int) -> None:
    """Scroll the head view's query ``query`` to the middle of its column, the head view to the top of the
    window, then hover the query."""
    from selenium.webdriver.common.by import By

    token = browser.find_element(By.CSS_SELECTOR, f"section.head .col.left .tok[data-index='{query}']")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});"
                           "document.querySelector('section.head').scrollIntoView({block: 'start'})", token)
    hover(browser, token)


@pytest.mark.parametrize("layer, head, query", [(2, 5, 200), (0, 2, 200), (4, 9, 297)])
def test_long_page_hover_shows_the_strongest_line_and_its_weight(browser, long_page, layer, head, query):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    view, path = long_page
    data, n = view.data, len(view.data["tokens"])
    assert n >= 300 and data["note"] == ""
    find = lambda css: browser.find_element(By.CSS_SELECTOR, css)  # noqa: E731
    console_errors(browser)
    open_page(browser, path)
    window = browser.execute_script("return window.innerHeight")
    columns = find("section.head .columns")
    assert columns.size["height"] <= window - 100, "the head view's columns do not fit the window"
    if (layer, head) != (2, 5):  # the page opens on layer 2, head 5
        Select(find('section.head select[aria-label="layer"]')).select_by_index(layer)
        find('section.head .head-button[data-head="5"]').click()
        find(f'section.head .head-button[data-head="{head}"]').click()
    # The strongest key of the query's row, and its weight as the page must write it, from the page's data.
    row = data["attention"][layer][head][query]
    key = max(range(n), key=lambda j: row[j])
    weight = f"{row[key] / data['scale']:.3f}"
    hover_long_page(browser, query)
    q_box = rect(browser, find(f"section.head .col.left .tok[data-index='{query}']"))
    k_el = find(f"section.head .col.right .tok[data-index='{key}']")
    k_box, right_box = rect(browser, k_el), rect(browser, find("section.head .col.right"))
    for what, box in (("the hovered query", q_box), (f"its strongest key {key}", k_box)):
        assert 0 <= box["top"] and box["bottom"] <= window, f"{what} is out of the window: {box}"
    assert right_box["top"] <= k_box["top"] and k_box["bottom"] <= right_box["bottom"] + 1, \
        f"the strongest key {key} is scrolled out of its column: {k_box} in {right_box}"
    # The weight, as a number beside the key and first in the hovered token's list.
    assert k_el.find_element(By.CSS_SELECTOR, ".w").text == weight
    first = find(f"section.head .weights ol.top[data-head='{head}'] li")
    assert first.get_attribute("data-index") == str(key) and first.text.startswith(weight)
    # The line itself: ink at its middle, between the two tokens' centres, in a screenshot of the window.
    c_box = rect(browser, find("section.head canvas.lines"))
    x = round((c_box["left"] + c_box["right"]) / 2)
    y = round(((q_box["top"] + q_box["bottom"]) / 2 + (k_box["top"] + k_box["bottom"]) / 2) / 2)
    shot = screenshot(browser)
    around = [shot.getpixel((x + dx, y + dy)) for dx in range(-3, 4) for dy in range(-3, 4)]
    assert any(min(rgb) < 120 for rgb in around), \
        f"no line at ({x}, {y}) between query {query} and key {key}: {around[24]}"
    assert console_errors(browser) == []


# ----------------------------------------------------------------------------------------------------
# The screenshots in docs/ (the README shows them): python tests/test_browser.py


def save_screenshots(folder: Path = REPO / "docs") -> None:
    import tempfile

    from minisbert import SentenceBert

    model = SentenceBert.from_pretrained(REPO / "weights" / "all-MiniLM-L6-v2")
    browser = start_browser(width=1100, height=700)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name, path in make_pages(model, Path(tmp)).items():
                open_page(browser, path)
                if name == "model":  # the grid, and the head it opens, in one picture
                    interact(browser, name)[0][2]()
                    browser.execute_script("window.scrollTo(0, 0)")
                if name == "head":
                    interact(browser, name)[1][2]()
                screenshot(browser).save(folder / f"view_{name}.png", optimize=True)
                print(folder / f"view_{name}.png")
            browser.set_window_size(1100, 900)  # the head view of a long input fills a screen's height
            _, path = make_long_page(model, Path(tmp))
            open_page(browser, path)
            hover_long_page(browser, 200)
            screenshot(browser).save(folder / "view_long.png", optimize=True)
            print(folder / "view_long.png")
    finally:
        browser.quit()


if __name__ == "__main__":
    save_screenshots()
