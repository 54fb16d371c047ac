"""Uploading in Chromium through the uploader: straight to S3, several files, resumed after
a reload, refused before sending when too big, and checked by the site once stored."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings

from apps.library.models import File
from apps.uploads.models import PendingUpload
from localaws.autoscaling.processes import kill_tree
from tests.browser.uploading import FILE_URL, UPLOAD_BUTTON, choose, upload
from tests.cluster.conftest import cluster  # noqa: F401
from tests.library.conftest import s3  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a-Long-enough-passw0rd"
MIB = 1024 * 1024
#: 26 MiB: over the 16 MiB multipart threshold, four parts of 8, 8, 8 and 2 MiB.
BIG = 26 * MIB


@pytest.fixture
def logged_in(page, django_user_model):
    """The page, logged in as a new user through the log-in form."""
    django_user_model.objects.create_user("uploader", password=PASSWORD)
    log_in(page)
    return page


def log_in(page, base=""):
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", "uploader")
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/library/")


class S3Traffic:
    """Every request the page sends to the media bucket, and the part numbers answered."""

    def __init__(self, page, origin):
        self.requests, self.parts_done = [], set()
        self.origin = origin
        page.on("request", self._request)
        page.on("response", self._response)

    def _request(self, request):
        if request.url.startswith(self.origin):
            self.requests.append((request.method, request.url))

    def _response(self, response):
        if response.url.startswith(self.origin) and response.ok and part_number(response.url):
            self.parts_done.add(part_number(response.url))

    def parts_sent(self):
        return [part_number(url) for method, url in self.requests if part_number(url)]

    def wait_for_parts(self, page, numbers):
        """Wait until S3 has answered for every part in `numbers`."""
        while not set(numbers) <= self.parts_done:
            page.wait_for_event("response", timeout=30_000)


def part_number(url):
    number = parse_qs(urlsplit(url).query).get("partNumber")
    return int(number[0]) if number else None


def media_origin():
    from apps.library.csp import media_origin
    return media_origin()


def big_file(tmp_path, name="film.bin"):
    path = tmp_path / name
    path.write_bytes(bytes(range(256)) * (BIG // 256))
    return path


def hold_parts(page, held):
    """From now on, part uploads numbered in `held` get no answer (as if the link stalled)."""
    def route(route):
        if part_number(route.request.url) in held:
            return  # never answered: the upload stalls there until the page goes
        route.continue_()
    page.route(re.compile(r".*[?&]partNumber=\d+.*"), route)


def test_several_files_dropped_on_the_uploader_all_reach_the_library(logged_in, screenshots):
    page = logged_in
    page.goto("/library/upload/")
    page.wait_for_selector("#uploader:not([hidden]) .uppy-Dashboard")
    names = ["one.txt", "two.txt", "three.txt"]
    dropped = page.evaluate_handle("""(names) => {
        const transfer = new DataTransfer();
        for (const name of names) transfer.items.add(new File([`I am ${name}\\n`], name, {type: "text/plain"}));
        return transfer;
    }""", names)
    page.dispatch_event(".uppy-Dashboard-inner", "dragover", {"dataTransfer": dropped})
    page.dispatch_event(".uppy-Dashboard-inner", "drop", {"dataTransfer": dropped})
    page.wait_for_selector(".uppy-Dashboard-Item >> nth=2")
    screenshots(page, "upload-chosen")
    page.click(UPLOAD_BUTTON)
    page.wait_for_url("**/library/")
    listed = page.inner_text("main")
    assert all(name in listed for name in names)
    assert sorted(File.objects.values_list("original_name", flat=True)) == sorted(names)


def test_no_file_byte_passes_through_the_node(logged_in, tmp_path):
    page = logged_in
    sizes = []
    page.on("request", lambda request: sizes.append(
        (request.url, len(request.post_data_buffer or b""))))
    upload(page, big_file(tmp_path))
    site = [size for url, size in sizes if not url.startswith(media_origin())]
    assert max(site) < 4096  # sign and complete calls only
    assert File.objects.get().size == BIG


def test_a_big_upload_resumes_after_a_reload_without_sending_its_parts_again(
        logged_in, tmp_path, screenshots, s3):
    page = logged_in
    traffic = S3Traffic(page, media_origin())
    film = big_file(tmp_path)
    hold_parts(page, held={3, 4})
    choose(page, film)
    page.click(UPLOAD_BUTTON)
    traffic.wait_for_parts(page, {1, 2})
    screenshots(page, "upload-in-progress")

    page.reload()  # the stalled parts' requests end with the page
    page.unroute_all(behavior="ignoreErrors")
    assert "film.bin" in page.inner_text(".unfinished")  # the page lists what is unfinished
    screenshots(page, "upload-unfinished")
    before = len(traffic.requests)
    choose(page, film)
    page.wait_for_selector(".uppy-Informer:has-text('resuming')")
    page.click(UPLOAD_BUTTON)
    page.wait_for_url(FILE_URL, timeout=60_000)

    resent = [n for n in (part_number(url) for _, url in traffic.requests[before:]) if n]
    assert sorted(set(resent)) == [3, 4]
    file = File.objects.get()
    stored = s3.get_object(Bucket=settings.STRATUS_MEDIA_BUCKET, Key=file.file.name)
    assert stored["Body"].read() == film.read_bytes()
    assert not PendingUpload.objects.exists()


def test_a_file_over_the_limit_is_refused_before_any_byte_is_sent(logged_in, tmp_path,
                                                                   settings):
    settings.STRATUS_UPLOAD_MAX_BYTES = 1000
    page = logged_in
    traffic = S3Traffic(page, media_origin())
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 1001)
    choose(page, big)
    informer = page.wait_for_selector(".uppy-Informer:has-text('too big')")
    assert informer.inner_text().startswith("big.bin is too big: files can be at most 1000 B")
    assert traffic.requests == [] and not PendingUpload.objects.exists()


def test_an_object_other_than_announced_is_deleted_and_the_user_told(logged_in, tmp_path,
                                                                      s3):
    page = logged_in

    def store_something_else(route):
        # A client that ignores the policy (S3 would refuse it; moto does not check): the
        # object stored under the issued key is longer than announced.
        form = route.request.post_data_buffer
        key = re.search(rb'name="key"\r\n\r\n([^\r]+)', form).group(1).decode()
        s3.put_object(Bucket=settings.STRATUS_MEDIA_BUCKET, Key=key,
                      Body=b"much longer than announced\n")
        route.fulfill(status=204, headers={
            "ETag": '"forged"', "Location": route.request.url,
            "Access-Control-Allow-Origin": page.evaluate("location.origin"),
            "Access-Control-Expose-Headers": "ETag, Location"})

    page.route(re.compile(r".*/stratus-media/?$"), store_something_else)
    short = tmp_path / "short.txt"
    short.write_bytes(b"short\n")
    choose(page, short)
    page.click(UPLOAD_BUTTON)
    error = page.wait_for_selector(".upload-errors li")
    assert error.inner_text() == ("short.txt: The file that arrived is 27\xa0bytes, not the "
                                  "6\xa0bytes announced; it was deleted. Upload it again.")
    assert not File.objects.exists() and not PendingUpload.objects.exists()
    listed = s3.list_objects_v2(Bucket=settings.STRATUS_MEDIA_BUCKET, Prefix="uploads/")
    assert not any(item["Key"].endswith("/short.txt") for item in listed.get("Contents", []))


def test_a_forged_completion_is_refused(logged_in, django_user_model):
    page = logged_in
    page.goto("/library/upload/")
    forged = page.evaluate("""async () => {
        const csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;
        const post = (url, body) => fetch(url, {method: "POST", body: JSON.stringify(body),
            headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf}});
        const issued = await (await post("/library/uploads/", {name: "mine.txt", size: 5})).json();
        const wrongKey = await post(`/library/uploads/${issued.upload}/complete/`, {key: "uploads/theirs/x.txt"});
        const unknown = await post("/library/uploads/AAAAAAAAAAAAAAAAAAAAAA/complete/", {});
        return [wrongKey.status, (await wrongKey.json()).error, unknown.status];
    }""")
    assert forged == [403, "That key was not issued for this upload.", 404]
    assert not File.objects.exists()


@pytest.mark.slow
def test_an_upload_resumes_through_another_node_after_the_signing_node_dies(
        browser, cluster, tmp_path):
    """Two real nodes (nginx + gunicorn) on one database and the local stack: the node
    that issued and signed the upload is killed mid-transfer; the other finishes it."""
    cluster.start_simpledb()
    cluster.create_user("uploader", PASSWORD)
    first, second = cluster.start_node(), cluster.start_node()
    cluster.manage("shell", "--no-imports", "-c",
                   "from django.conf import settings; "
                   "from storage_backends.provisioning import Provisioner; "
                   "Provisioner(sqs=False, sdb=False).ensure_bucket("
                   f"settings.STRATUS_MEDIA_BUCKET, [{first!r}, {second!r}])")
    context = browser.new_context()
    context.set_default_timeout(30_000)
    page = context.new_page()
    traffic = S3Traffic(page, cluster.env["AWS_ENDPOINT_URL_S3"])
    film = big_file(tmp_path)

    log_in(page, first)  # one log-in: cookies are per host, whatever the port
    hold_parts(page, held={3, 4})
    choose(page, film)
    page.click(UPLOAD_BUTTON)
    traffic.wait_for_parts(page, {1, 2})
    kill_tree(cluster.process_serving(first))

    page.goto(f"{second}/library/upload/")  # the stalled parts' requests end with the page
    page.unroute_all(behavior="ignoreErrors")
    before = len(traffic.requests)
    choose(page, film)
    page.wait_for_selector(".uppy-Informer:has-text('resuming')")
    page.click(UPLOAD_BUTTON)
    page.wait_for_url(re.compile(re.escape(second) + FILE_URL.pattern), timeout=60_000)
    resent = [n for n in (part_number(url) for _, url in traffic.requests[before:]) if n]
    assert sorted(set(resent)) == [3, 4]
    assert "26.0\xa0MB" in page.inner_text("main")
    context.close()


def test_an_operator_uploads_for_a_user_from_the_admin(page, django_user_model, tmp_path,
                                                       screenshots):
    django_user_model.objects.create_superuser("operator", password=PASSWORD)
    owner = django_user_model.objects.create_user("bob")
    page.goto("/admin/login/")
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    page.goto("/admin/library/file/add/")
    page.fill("#upload-owner", "bob")
    notes = tmp_path / "for-bob.txt"
    notes.write_bytes(b"from the operator\n")
    choose(page, notes)
    screenshots(page, "admin-upload")
    page.click(UPLOAD_BUTTON)
    page.wait_for_url("**/admin/library/file/")
    assert "for-bob.txt" in page.inner_text("#result_list")
    assert File.objects.get().owner == owner


def test_cancelling_an_upload_aborts_it_in_s3_and_forgets_it(logged_in, tmp_path, s3):
    page = logged_in
    traffic = S3Traffic(page, media_origin())
    hold_parts(page, held={3, 4})
    choose(page, big_file(tmp_path))
    page.click(UPLOAD_BUTTON)
    traffic.wait_for_parts(page, {1, 2})
    key = PendingUpload.objects.get().key
    with page.expect_response(lambda response: response.request.method == "DELETE"):
        page.click(".uppy-StatusBar-actionBtn--cancel, button[title='Cancel']")
    assert not PendingUpload.objects.exists()
    uploads = s3.list_multipart_uploads(Bucket=settings.STRATUS_MEDIA_BUCKET, Prefix=key)
    assert not uploads.get("Uploads")
