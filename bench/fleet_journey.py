"""Virtual users for the chaos run (bench/fleet.py), and the tally of what they saw.

Each `VirtualUser` repeats a journey over plain HTTP, as a person with a browser would: sign
up (the first time) or log in, upload one or two files, list them, open one, download it and
compare its bytes, delete about one in three, log out. It knows nothing of the site's code
or of the local stack: what it counts is only what a user could see. After the run,
`verify()` goes back for every file a user kept and checks it is still there, listed once,
with the same bytes, and that its facts (the SHA-256 the background task records) arrived.

A failure is never retried silently: every request counts, a failed one is recorded with
its monotonic start and end and its path (the run attributes it to a killed node by time),
and the journey goes on as a user would: an upload that failed is tried once more, any
other failure ends the step, and a failed log-in is tried again on the next journey.
"""

import hashlib
import logging
import math
import random
import re
import threading
import time
from collections import Counter, namedtuple
from urllib.parse import urljoin, urlsplit

import requests

logger = logging.getLogger(__name__)

#: Unlike any username (Django's similarity validator refuses a password close to one).
PASSWORD = "Tq7-violet-harbour-2291"
#: Seconds any one request may take before it counts as failed ("timeout").
REQUEST_TIMEOUT = 60
#: Sizes of uploaded files, in bytes: log-uniform between these (1 KB and 20 MB).
SIZE_RANGE = (1_000, 20_000_000)
#: Seconds a user pauses before each request, reading the page (uniformly random): a person,
#: not a flood. Without it the users saturate this machine's two cores and every request
#: waits behind the others, which measures the machine, not the fleet.
THINK_TIME = (0.5, 1.5)
#: A user deletes each file uploaded in a journey with this probability.
DELETE_PROBABILITY = 1 / 3
#: Seconds between two looks at files whose facts are still pending, in verify().
FACTS_POLL_SECONDS = 0.5
#: How many library pages verify() reads at most, per user (25 files a page).
MAX_LIST_PAGES = 200
#: Tries verify() gives each of its checks (a failed request, a lost session) before it
#: counts a verify error.
VERIFY_ATTEMPTS = 20

LOGIN_PATH = "/accounts/login/"
_PUBLIC_ID = r"[A-Za-z0-9_-]{22}"
_DETAIL_PATH = re.compile(rf"^/library/({_PUBLIC_ID})/$")
_LISTED = re.compile(rf'<a href="/library/({_PUBLIC_ID})/">([^<]*)</a>')
_CHECKSUM = re.compile(r'<code class="checksum">([0-9a-f]{64})</code>')

#: One failed request: its cause ("502", "connection", "timeout" …), path and monotonic times.
Failure = namedtuple("Failure", "cause path start end")
#: A file a user uploaded and kept, for verify().
KeptFile = namedtuple("KeptFile", "username public_id name sha256 size")


class Tally:
    """What one run's users saw, counted under one lock (users run on many threads)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.journeys = 0  # completed
        self.journeys_broken = 0  # ended by a failed request
        self.requests = 0
        self.failures = []
        self.latencies = []
        self.sessions_lost = 0
        self.uploads_lost = 0
        self.uploads_corrupted = 0
        self.tasks_lost = 0
        self.duplicate_effects = 0
        # A retried upload whose first attempt failed to answer but stored the file: the
        # user now has it twice. Not a duplicate the site made (it saw two POSTs).
        self.retry_duplicates = 0
        self.logins_refused = 0  # the log-in form said no: the account or password is gone
        self.client_errors = 0  # exceptions in the users' own code: should stay 0
        self.verify_errors = 0
        self.files_verified = 0
        self.files_deleted = 0
        self.kept = {}  # public_id: KeptFile
        self._lost = set()  # public_ids counted lost or corrupted, so never twice

    def request(self, path, start, end, failure_cause=None):
        """Count one request; `failure_cause` if it failed."""
        with self._lock:
            self.requests += 1
            self.latencies.append(end - start)
            if failure_cause is not None:
                self.failures.append(Failure(failure_cause, path, start, end))

    def add(self, counter, amount=1):
        """Add to one of the counters (journeys, sessions_lost, …)."""
        with self._lock:
            setattr(self, counter, getattr(self, counter) + amount)

    def keep(self, kept_file):
        with self._lock:
            self.kept[kept_file.public_id] = kept_file

    def forget(self, public_id):
        with self._lock:
            self.kept.pop(public_id, None)

    def lose(self, public_id, counter):
        """Count file `public_id` as lost or corrupted (`counter`), once in its life."""
        with self._lock:
            if public_id in self._lost:
                return
            self._lost.add(public_id)
            self.kept.pop(public_id, None)
            setattr(self, counter, getattr(self, counter) + 1)

    def kept_files(self):
        with self._lock:
            return list(self.kept.values())

    def summary(self):
        """The run's figures as a plain dict (latencies in ms)."""
        with self._lock:
            latencies = sorted(self.latencies)
            by_cause = Counter(failure.cause for failure in self.failures)
            return {
                "journeys": self.journeys,
                "journeys_broken": self.journeys_broken,
                "requests": self.requests,
                "failed_requests": len(self.failures),
                "failed_by_cause": dict(sorted(by_cause.items())),
                "failed_percent": 100 * len(self.failures) / self.requests if self.requests
                else 0.0,
                "sessions_lost": self.sessions_lost,
                "uploads_lost": self.uploads_lost,
                "uploads_corrupted": self.uploads_corrupted,
                "tasks_lost": self.tasks_lost,
                "duplicate_effects": self.duplicate_effects,
                "retry_duplicates": self.retry_duplicates,
                "files_kept": len(self.kept),
                "files_deleted": self.files_deleted,
                "files_verified": self.files_verified,
                "logins_refused": self.logins_refused,
                "client_errors": self.client_errors,
                "verify_errors": self.verify_errors,
                "p50_ms": _percentile(latencies, 50) * 1000,
                "p99_ms": _percentile(latencies, 99) * 1000,
            }


def _percentile(ordered, percent):
    """The nearest-rank percentile of sorted `ordered`; 0 for none."""
    if not ordered:
        return 0.0
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


def random_size(rng, size_range):
    """A file size, log-uniform in `size_range`: as many 1-10 KB files as 1-10 MB ones."""
    low, high = size_range
    return int(math.exp(rng.uniform(math.log(low), math.log(high))))


class SessionLost(Exception):
    """A logged-in page sent the user to the log-in page."""


class StepFailed(Exception):
    """A request failed (already counted): the journey gives up on this step."""


class Client:
    """One user's browser: a requests session whose every request is timed and counted.

    `tally=None` (verify()) counts nothing: the run's figures are the journeys' alone.
    """

    def __init__(self, base_url, tally, timeout, rng=None, think=(0, 0)):
        self.base_url = base_url.rstrip("/")
        self.think = think
        self.tally = tally
        self.timeout = timeout
        self.rng = rng or random.Random()
        self.session = requests.Session()

    def send(self, method, url, expected=(200, 302), data=None, files=None, missing_ok=False,
             to_login_ok=False):
        """The response, or StepFailed once a failure is counted. Never follows redirects.

        A status outside `expected` is a failure. With `missing_ok` a 404 is returned, yet
        counted as failed: the user expected their file. A redirect to the log-in page
        raises SessionLost, unless `to_login_ok` (log-out goes there).
        """
        url = urljoin(self.base_url + "/", url)
        if self.think[1] > 0:
            time.sleep(self.rng.uniform(*self.think))  # the person reads the page
        if data is not None:
            data = {**data, "csrfmiddlewaretoken": self.session.cookies.get("csrftoken", "")}
        start = time.monotonic()
        try:
            response = self.session.request(method, url, data=data, files=files,
                                            allow_redirects=False, timeout=self.timeout)
        except requests.Timeout:
            self._count(url, start, "timeout")
            raise StepFailed("timeout") from None
        except requests.RequestException:
            self._count(url, start, "connection")
            raise StepFailed("connection") from None
        if (not to_login_ok and response.is_redirect
                and urlsplit(response.headers["Location"]).path == LOGIN_PATH):
            self._count(url, start, None)  # the site answered; the loss is the session's
            raise SessionLost(url)
        if response.status_code not in expected:
            self._count(url, start, str(response.status_code))
            if missing_ok and response.status_code == 404:
                return response
            raise StepFailed(str(response.status_code))
        self._count(url, start, None)
        return response

    def _count(self, url, start, cause):
        if self.tally is not None:
            self.tally.request(urlsplit(url).path, start, time.monotonic(), cause)

    def log_in(self, username, password):
        """Log in through the form; StepFailed if the site refused or failed.

        A session still there (an earlier log-out failed) makes the form redirect: fine.
        """
        self.send("GET", LOGIN_PATH, expected=(200, 302))
        response = self.send("POST", LOGIN_PATH, expected=(200, 302),
                             data={"username": username, "password": password})
        if response.status_code != 302:  # the form again: wrong password, or no such user
            if self.tally is not None:
                self.tally.add("logins_refused")
            raise StepFailed("log-in refused")

    def listing_page(self, page):
        """([(public_id, name)] on library page `page`, newest first; whether more follow)."""
        response = self.send("GET", f"/library/?page={page}", expected=(200,))
        return _LISTED.findall(response.text), 'rel="next"' in response.text

    def download(self, public_id):
        """The file's bytes (following the redirect to storage), or None if it is a 404."""
        response = self.send("GET", f"/library/{public_id}/download/", expected=(302,),
                             missing_ok=True)
        if response.status_code == 404:
            return None
        response = self.send("GET", urljoin(response.url, response.headers["Location"]),
                             expected=(200,), missing_ok=True)
        return None if response.status_code == 404 else response.content


class VirtualUser:
    """One person repeating the journey against `base_url` (the balancer).

    The first journey signs up as `username`; later ones log in. `rng` (random.Random)
    decides sizes, contents and deletions, so a seed repeats a run's choices.
    """

    def __init__(self, base_url, username, password, rng, tally, timeout=REQUEST_TIMEOUT,
                 size_range=SIZE_RANGE, think=(0, 0)):
        self.username = username
        self.password = password
        self.rng = rng
        self.tally = tally
        self.size_range = size_range
        self.client = Client(base_url, tally, timeout, rng=rng, think=think)
        self.signed_up = False

    def run_journey(self):
        """One journey, start to end; failures are counted, never raised."""
        try:
            self._enter()
        except (StepFailed, SessionLost):
            return  # not logged in: the next journey tries again
        try:
            for _ in range(self.rng.randint(1, 2)):
                self._upload_and_use()
            self.client.send("POST", "/accounts/logout/", expected=(302,), data={},
                             to_login_ok=True)
        except SessionLost:
            self.tally.add("sessions_lost")
            return
        except StepFailed:
            self.tally.add("journeys_broken")  # counted; it ends where a user would give up
            return
        self.tally.add("journeys")

    def _enter(self):
        if self.signed_up:
            self.client.log_in(self.username, self.password)
            return
        if self.client.send("GET", "/accounts/signup/", expected=(200, 302)).is_redirect:
            # Signed in already: an earlier sign-up worked, though its answer was lost.
            self.signed_up = True
            return
        response = self.client.send("POST", "/accounts/signup/", expected=(200, 302), data={
            "username": self.username, "email": f"{self.username}@example.com",
            "password1": self.password, "password2": self.password})
        # 200 is the form again: the account exists (an earlier sign-up's answer was lost).
        if response.status_code != 302 and "already exists" not in response.text:
            logger.warning("sign-up of %s refused: the form is wrong", self.username)
            self.tally.add("client_errors")
            return
        self.signed_up = True
        if response.status_code != 302:
            self.client.log_in(self.username, self.password)

    def _upload_and_use(self):
        """Upload one file, then list, open, download and maybe delete it."""
        size = random_size(self.rng, self.size_range)
        content = self.rng.randbytes(size)
        name = f"chaos-{self.rng.getrandbits(64):016x}.bin"
        public_id, retried = self._upload(name, content)
        if public_id is None:
            return
        kept = KeptFile(self.username, public_id, name, hashlib.sha256(content).hexdigest(),
                        size)
        self.tally.keep(kept)
        del content  # up to 20 MB per user: keep only its checksum
        self._check_listed(kept, retried)
        detail = self.client.send("GET", f"/library/{public_id}/", expected=(200,),
                                  missing_ok=True)
        if detail.status_code == 404:
            self.tally.lose(public_id, "uploads_lost")
            return
        self._check_download(kept)
        if self.rng.random() < DELETE_PROBABILITY:
            self._delete(public_id)

    def _upload(self, name, content):
        """POST the file, once more if that failed; (public_id, retried) or (None, _)."""
        for attempt in range(2):
            try:
                response = self.client.send("POST", "/library/upload/", expected=(302,),
                                            data={"title": ""},
                                            files={"file": (name, content)})
            except StepFailed:
                continue
            match = _DETAIL_PATH.match(urlsplit(response.headers["Location"]).path)
            if match is None:
                raise StepFailed("upload went elsewhere")
            return match.group(1), attempt > 0
        return None, True

    def _check_listed(self, kept, retried):
        listed = [public_id for public_id, name in self.client.listing_page(1)[0]
                  if name == kept.name]
        if kept.public_id not in listed:
            self.tally.lose(kept.public_id, "uploads_lost")
            return
        extra = [public_id for public_id in listed if public_id != kept.public_id]
        if listed.count(kept.public_id) > 1 or (extra and not retried):
            self.tally.add("duplicate_effects")
        elif extra:
            self.tally.add("retry_duplicates", len(extra))
        for public_id in extra:  # a real file of the user's: verify() checks it too
            self.tally.keep(kept._replace(public_id=public_id))

    def _check_download(self, kept):
        content = self.client.download(kept.public_id)
        if content is None:
            self.tally.lose(kept.public_id, "uploads_lost")
        elif hashlib.sha256(content).hexdigest() != kept.sha256:
            self.tally.lose(kept.public_id, "uploads_corrupted")

    def _delete(self, public_id):
        # Whether it is gone is unknown until the POST answers: verify() must not look for it.
        self.tally.forget(public_id)
        self.client.send("GET", f"/library/{public_id}/delete/", expected=(200,))
        try:
            self.client.send("POST", f"/library/{public_id}/delete/", expected=(302,), data={})
        except StepFailed:
            # Tried once more, as a user would; a 404 says the first attempt deleted it.
            self.client.send("POST", f"/library/{public_id}/delete/", expected=(302, 404),
                             data={})  # expected here: not a failure
        self.tally.add("files_deleted")


def username_for(index):
    """The virtual user number `index`'s username."""
    return f"chaos-user-{index}"


def run_users(base_url, count, stop, tally, seed, first_index=0, size_range=SIZE_RANGE,
              timeout=REQUEST_TIMEOUT, think=THINK_TIME):
    """Start `count` users on daemon threads, each repeating journeys until `stop` is set.

    Users are numbered from `first_index` (usernames unique per number); each has its own
    random.Random seeded from `seed` and its number. Returns the started threads.
    """
    def loop(user):
        while not stop.is_set():
            try:
                user.run_journey()
            except Exception:  # a bug of ours must not silently end a user's thread
                logger.exception("virtual user %s failed", user.username)
                tally.add("client_errors")

    threads = []
    for index in range(first_index, first_index + count):
        user = VirtualUser(base_url, username_for(index), PASSWORD,
                           random.Random(f"{seed}-{index}"), tally, timeout=timeout,
                           size_range=size_range, think=think)
        thread = threading.Thread(target=loop, args=(user,), name=username_for(index),
                                  daemon=True)
        thread.start()
        threads.append(thread)
    return threads


def verify(base_url, tally, facts_wait, timeout=REQUEST_TIMEOUT):
    """Check every file the users kept, after the run; the findings go into `tally`.

    Each file must be listed once in its owner's library (twice: a duplicate effect; not at
    all, or a 404: lost) and download with its bytes (else corrupted). Then its page must
    show its facts within `facts_wait` seconds of the downloads' end: still pending
    then is a task lost, a different SHA-256 is corrupted. Verification's own requests are
    not counted in the run's figures; a check that cannot be made (requests keep failing)
    is a verify error, not a loss. Returns tally.summary().
    """
    by_user = {}
    for kept in tally.kept_files():
        by_user.setdefault(kept.username, []).append(kept)
    pending = []
    for username, files in by_user.items():
        client = Client(base_url, None, timeout, rng=random.Random(username))
        try:
            listed = Counter(public_id for public_id, _ in _whole_listing(client, username))
        except StepFailed:
            tally.add("verify_errors", len(files))
            continue
        for kept in files:
            if listed[kept.public_id] == 0:
                tally.lose(kept.public_id, "uploads_lost")
                continue
            if listed[kept.public_id] > 1:
                tally.add("duplicate_effects")
            try:
                content = _as_user(client, username, lambda: client.download(kept.public_id))
            except StepFailed:
                tally.add("verify_errors")
                continue
            if content is None:
                tally.lose(kept.public_id, "uploads_lost")
            elif hashlib.sha256(content).hexdigest() != kept.sha256:
                tally.lose(kept.public_id, "uploads_corrupted")
            else:
                tally.add("files_verified")
                pending.append((client, kept))
    # Counted from here: checking hundreds of downloads can take minutes by itself.
    _await_facts(pending, tally, time.monotonic() + facts_wait)
    return tally.summary()


def _as_user(client, username, action):
    """`action()`, logging in first whenever the session is not (or no longer) there.

    Tried VERIFY_ATTEMPTS times: behind a balancer, a site that keeps sessions on one node
    needs luck to reach that node again, and the check is about files, not sessions.
    """
    for _ in range(VERIFY_ATTEMPTS):
        try:
            return action()
        except SessionLost:
            try:
                client.log_in(username, PASSWORD)
                # A balancer that rotates strictly would send the log-in and the check to
                # different nodes every time; a few requests more or less break the rhythm.
                for _ in range(client.rng.randint(0, 3)):
                    client.send("GET", "/healthz", expected=(200,))
            except (StepFailed, SessionLost):
                pass
        except StepFailed:
            pass
    raise StepFailed(f"gave up after {VERIFY_ATTEMPTS} attempts")


def _whole_listing(client, username):
    listed = []
    for page in range(1, MAX_LIST_PAGES + 1):
        on_page, more = _as_user(client, username, lambda: client.listing_page(page))
        listed += on_page
        if not more:
            break
    return listed


def _await_facts(pending, tally, facts_deadline):
    """Look at each file's page until its SHA-256 shows or `facts_deadline` passes."""
    unseen = set()  # public_ids whose page could not be read on the latest look
    while pending:
        still_pending = []
        for client, kept in pending:
            try:
                page = _as_user(client, kept.username, lambda: client.send(
                    "GET", f"/library/{kept.public_id}/", expected=(200,)))
            except StepFailed:
                unseen.add(kept.public_id)
                still_pending.append((client, kept))
                continue
            unseen.discard(kept.public_id)
            shown = _CHECKSUM.search(page.text)
            if shown is None:
                still_pending.append((client, kept))
            elif shown.group(1) != kept.sha256:
                tally.lose(kept.public_id, "uploads_corrupted")
        pending = still_pending
        if pending and time.monotonic() >= facts_deadline:
            not_seen = sum(1 for _, kept in pending if kept.public_id in unseen)
            tally.add("verify_errors", not_seen)
            tally.add("tasks_lost", len(pending) - not_seen)
            for _, kept in pending:
                if kept.public_id not in unseen:
                    logger.warning("facts never recorded: file %s of %s (%d bytes)",
                                   kept.public_id, kept.username, kept.size)
            return
        if pending:
            time.sleep(FACTS_POLL_SECONDS)  # the worker's pace, not ours: poll, bounded above
