"""The listing of health/: one sorted pass, each task's newest, and its history by date."""
import os

from alive.check import scan


def folder_with(tmp_path, *names):
    health = tmp_path / "health"
    health.mkdir()
    for name in names:
        (health / name).write_text("{}")
    return health


def test_each_task_gets_its_newest_file_by_started_at(tmp_path):
    health = folder_with(tmp_path, "2026-05-01_a_2359.json", "2026-05-02_a_0000.json", "2026-04-30_b_1200.json",
                         "2026-05-02_a_0000-2.json", "a_latest.json")
    listing = scan.list_health(health)
    assert listing.newest == {"a": "2026-05-02_a_0000-2.json", "b": "2026-04-30_b_1200.json"}
    assert listing.latest == {"a": "a_latest.json"}
    assert listing.dates == ["2026-05-02", "2026-05-01", "2026-04-30"]


def test_suffixes_are_ordered_as_numbers_not_as_text(tmp_path):
    names = ["2026-05-02_t_0100.json"] + [f"2026-05-02_t_0100-{n}.json" for n in range(2, 12)]
    listing = scan.list_health(folder_with(tmp_path, *names))
    assert listing.newest["t"] == "2026-05-02_t_0100-11.json"
    assert list(scan.task_files(listing, "t")) == names[::-1]


def test_a_task_whose_name_extends_another_is_kept_apart(tmp_path):
    health = folder_with(tmp_path, "2026-05-02_t_0100.json", "2026-05-02_t_x_0200.json", "2026-05-01_t_x_0100.json",
                         "2026-05-01_t_0900.json", "2026-05-02_t-x_0300.json")
    listing = scan.list_health(health)
    assert list(scan.task_files(listing, "t")) == ["2026-05-02_t_0100.json", "2026-05-01_t_0900.json"]
    assert list(scan.task_files(listing, "t_x")) == ["2026-05-02_t_x_0200.json", "2026-05-01_t_x_0100.json"]
    assert list(scan.task_files(listing, "t-x")) == ["2026-05-02_t-x_0300.json"]


def test_history_walks_back_over_days_without_files(tmp_path):
    health = folder_with(tmp_path, "2026-01-05_weekly_0600.json", "2026-01-12_weekly_0600.json",
                         "2026-01-19_weekly_0600.json", *[f"2026-01-{d:02d}_daily_0700.json" for d in range(1, 20)])
    listing = scan.list_health(health)
    assert list(scan.task_files(listing, "weekly")) == [
        "2026-01-19_weekly_0600.json", "2026-01-12_weekly_0600.json", "2026-01-05_weekly_0600.json"]
    assert list(scan.task_files(listing, "nobody")) == []


def test_names_that_are_not_canonical_are_sorted_out(tmp_path):
    odd = ["notes.txt", ".2026-05-02_t_0100.json.1.tmp", "task_2026-05-02T130640Z.json", "2026-05-02_t_01.json",
           "2026-05-02_bad id_0100.json", "2026-05-02_t_0100.json.bak"]
    health = folder_with(tmp_path, "2026-05-02_t_0100.json", *odd)
    os.close(os.open(os.path.join(os.fsencode(health), b"2026-05-02_caf\xe9_0100.json"), os.O_CREAT | os.O_WRONLY))
    listing = scan.list_health(health)
    assert listing.canonical == ["2026-05-02_t_0100.json"]
    assert listing.temp == [".2026-05-02_t_0100.json.1.tmp"]
    assert sorted(listing.legacy) == sorted(["task_2026-05-02T130640Z.json", "2026-05-02_t_01.json",
                                             "2026-05-02_bad id_0100.json", "2026-05-02_caf\udce9_0100.json"])
    assert sorted(listing.other) == ["2026-05-02_t_0100.json.bak", "notes.txt"]


def test_a_newline_in_a_name_cannot_forge_a_heartbeat(tmp_path):
    health = tmp_path / "health"
    health.mkdir()
    (health / "x\n2026-05-02_forged_0100.json").write_text("{}")
    listing = scan.list_health(health)
    assert listing.newest == {} and listing.other == ["x\n2026-05-02_forged_0100.json"]


def test_impossible_dates_are_named():
    assert scan.impossible_time("2026-13-02_t_0100.json") == "name has an impossible date or time (2026-13-02 01:00)"
    assert scan.impossible_time("2026-05-02_t_2460.json").startswith("name has an impossible")
    assert scan.impossible_time("2026-05-02_t_2359-3.json") is None


def test_grouped_lists_every_file_of_every_task_oldest_first(tmp_path):
    listing = scan.list_health(folder_with(tmp_path, "2026-05-02_t_0100-2.json", "2026-05-02_t_0100.json",
                                           "2026-05-01_u_0100.json"))
    assert scan.grouped(listing) == {"t": ["2026-05-02_t_0100.json", "2026-05-02_t_0100-2.json"],
                                     "u": ["2026-05-01_u_0100.json"]}


def test_a_missing_folder_is_an_empty_listing(tmp_path):
    assert scan.list_health(tmp_path / "nope").newest == {}
