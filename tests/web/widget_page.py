"""Headless Chromium driving the clinic page and its chat widget the way a patient would."""
from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

from chat_scenario import Turn
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts"
SCREENSHOTS_DIR = ARTIFACTS_DIR / "screenshots"
AXE_SCRIPT = REPO_ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)
# name: (width, height, mobile)
VIEWPORTS = {"desktop": (1280, 800, False), "phone": (390, 844, True)}
WAIT_SECONDS = 10
REPLY_SECONDS = 45  # the real bot's replies, on a busy machine


def start_chromium(profile_dir: Path) -> webdriver.Chrome:
    options = Options()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    options.add_argument("--window-size=1280,800")
    # Network events (every URL the page asks for) and the console (errors, CSP reports).
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


def origin(url: str) -> str:
    """scheme://host:port, with ws(s) counted as http(s) (a websocket to a server is its origin)."""
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return f"{scheme}://{parts.netloc}"


class ChatPage:
    """The clinic page with its chat widget, seen through the browser."""

    def __init__(self, driver: webdriver.Chrome, site_url: str, opening: Turn) -> None:
        self.driver = driver
        self.site_url = site_url
        self.opening = opening  # what the bot's opening shows
        self.viewport = "desktop"

    # ---- finding things ----

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def part(self, name: str) -> WebElement:
        return self.find(f"#clinic-chat [data-chat={name}]")

    def wait_until(self, condition, message: str, seconds: float = WAIT_SECONDS):
        return WebDriverWait(self.driver, seconds).until(lambda _: condition(), message)

    def active_element(self) -> WebElement:
        return self.driver.switch_to.active_element

    # ---- acting as the patient ----

    def load(self) -> ChatPage:
        self.driver.get(self.site_url)
        self.wait_until(lambda: self.part("launcher").is_displayed(), "the launcher never showed")
        return self

    def reload(self) -> None:
        self.driver.refresh()
        self.wait_until(lambda: self.part("launcher").is_displayed(), "the launcher never showed")
        self.wait_for_panel()  # a widget left open opens again

    def set_viewport(self, name: str) -> None:
        width, height, mobile = VIEWPORTS[name]
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})
        self.viewport = name

    def open_widget(self) -> None:
        self.part("launcher").click()
        self.wait_until(lambda: self.part("input").is_displayed(), "the widget did not open")
        self.wait_for_panel()

    def wait_for_panel(self) -> None:
        """The panel fades and slides in (0.18 s), and counts as hidden while transparent; a fast
        bot answers sooner. Wait until it has stopped moving."""
        self.wait_until(lambda: self.driver.execute_script(
            "return arguments[0].getAnimations().every((a) => a.playState !== 'running')",
            self.part("panel")), "the panel kept moving")

    def start_conversation(self) -> None:
        """Open the widget and wait for the bot's opening message."""
        self.open_widget()
        self.wait_for_text(self.opening.expect)

    def type_message(self, text: str) -> None:
        self.part("input").send_keys(text, Keys.ENTER)

    def click_choice(self, title: str) -> None:
        choice = next(button for button in self.find_all(".chat-choice:enabled") if button.text == title)
        choice.click()

    def play(self, *turns: Turn) -> None:
        for turn in turns:
            if turn.click:
                self.click_choice(turn.click)
            else:
                self.type_message(turn.type)
            self.wait_for_text(turn.expect)

    # ---- reading what shows ----

    def log_text(self) -> str:
        return self.part("log").text

    def wait_for_text(self, snippet: str, seconds: float = REPLY_SECONDS) -> None:
        self.wait_until(lambda: snippet in self.log_text(),
                        f"{snippet!r} never showed; the conversation reads:\n{self.log_text()}",
                        seconds)

    def messages(self, sender: str) -> list[str]:
        """Text of each message from "bot" or "user", without the screen-reader prefix."""
        return [bubble.get_attribute("textContent").split(": ", 1)[1]
                for bubble in self.find_all(f".chat-msg--{sender}")]

    def banner(self) -> WebElement | None:
        banners = self.find_all("#clinic-chat [data-chat=banner] .chat-banner")
        return banners[0] if banners else None

    def stored_state(self, storage: str = "sessionStorage") -> dict:
        return json.loads(self.driver.execute_script(
            f"return window.{storage}.getItem('clinic-chat:v1')") or "{}")

    def store_state(self, state: dict) -> None:
        """Replace what the widget keeps (sessionStorage); the page must be reloaded to read it."""
        self.driver.execute_script("sessionStorage.setItem('clinic-chat:v1', arguments[0])", json.dumps(state))

    # ---- evidence ----

    def scroll_to(self, css: str) -> None:
        """Scroll the conversation so the last element matching `css` starts at its top."""
        self.driver.execute_script("""
            const [log, target] = arguments;  // scroll the log only (scrollIntoView moves the panel too)
            log.scrollTop += target.getBoundingClientRect().top - log.getBoundingClientRect().top;
        """, self.part("log"), self.find_all(css)[-1])

    def screenshot(self, name: str) -> Path:
        width, height, _ = VIEWPORTS[self.viewport]
        SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS_DIR / ".gitignore").write_text("# written by the test run\n*\n")
        path = SCREENSHOTS_DIR / f"{self.viewport}-{width}x{height}-{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def axe_violations(self, report_name: str) -> list[dict]:
        """Run axe-core on the page as it is; save the report; return its violations."""
        self.driver.execute_script(AXE_SCRIPT.read_text(encoding="utf-8"))
        self.driver.set_script_timeout(60)
        report = self.driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            axe.run(document).then(
                (results) => done(JSON.stringify(results)),
                (error) => done(JSON.stringify({error: String(error)})));
        """)
        results = json.loads(report)
        assert "error" not in results, results
        ARTIFACTS_DIR.mkdir(exist_ok=True)
        (ARTIFACTS_DIR / f"axe-{report_name}.json").write_text(json.dumps(results, indent=1))
        return results["violations"]

    def network_origins(self) -> set[str]:
        """Origins of every request and websocket the page has opened since the last call."""
        urls = []
        for entry in self.driver.get_log("performance"):
            event = json.loads(entry["message"])["message"]
            if event["method"] == "Network.requestWillBeSent":
                urls.append(event["params"]["request"]["url"])
            elif event["method"] == "Network.webSocketCreated":
                urls.append(event["params"]["url"])
        return {origin(url) for url in urls}

    def console_errors(self) -> list[str]:
        return [entry["message"] for entry in self.driver.get_log("browser") if entry["level"] == "SEVERE"]
