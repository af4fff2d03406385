"""Strapi v3 query strings: qs parsing, the REST operator set, _where/_or, bounds and injection."""
from datetime import datetime, timezone

import pytest
from bson import ObjectId
from bson.regex import Regex
from werkzeug.datastructures import MultiDict

from maiascore.errors import Invalid
from maiascore.http.strapi_query import (MAX_DEPTH, MAX_INDEX, MAX_PARAMS, MAX_VALUES, convert_params,
                                         parse_qs_nested, strapi_filter)

FIELDS = {
    "id": ("_id", ObjectId),
    "uuid": ("uuid", str),
    "status": ("status", str),
    "score": ("score", int),
    "scoreProbability": ("scoreProbability", float),
    "processed": ("processed", bool),
    "created_at": ("created_at", datetime),
    "users_permissions_user": ("users_permissions_user", int),
}


def where(query):
    return strapi_filter(query, FIELDS)


def invalid(query, *fragments):
    with pytest.raises(Invalid) as caught:
        where(query)
    for fragment in fragments:
        assert fragment in caught.value.message, caught.value.message
    return caught.value.message


# -- qs parsing ----------------------------------------------------------------------------------

@pytest.mark.parametrize("query", [
    "uuid_in[0]=a&uuid_in[1]=c",
    "uuid_in%5B0%5D=a&uuid_in%5B1%5D=c",  # how qs.stringify (the SDK) sends it
    "uuid_in[]=a&uuid_in[]=c",
    "uuid_in%5B%5D=a&uuid_in%5B%5D=c",
    "uuid_in=a&uuid_in=c",
    "uuid_in[1]=c&uuid_in[0]=a",
    "uuid_in[0]=a&uuid_in[7]=c",  # qs compacts sparse arrays
    "uuid_in=a&uuid_in[]=c",
])
def test_qs_array_forms(query):
    assert parse_qs_nested(query) == {"uuid_in": ["a", "c"]}


def test_qs_nested_where_and_or():
    query = "_where[0][score_gte]=600&_where[1][_or][0][status]=queued&_where[1][_or][1][status]=failed"
    assert parse_qs_nested(query) == {
        "_where": [{"score_gte": "600"}, {"_or": [{"status": "queued"}, {"status": "failed"}]}]}
    assert parse_qs_nested("_where[_or][0][status]=queued&_where[_or][1][status]=failed") == {
        "_where": {"_or": [{"status": "queued"}, {"status": "failed"}]}}


def test_qs_decoding_and_odd_pairs():
    assert parse_qs_nested("?a=x+y%20z&b&c=&d=1%3D2&e[x=y]=1") == {
        "a": "x y z", "b": "", "c": "", "d": "1=2", "e": {"x=y": "1"}}
    assert parse_qs_nested(b"a=%C3%A9") == {"a": "é"}
    assert parse_qs_nested("a[0]=x&a[0]=y") == {"a": ["x", "y"]}
    assert parse_qs_nested("") == {}


def test_qs_pairs_and_multidict_give_every_value():
    args = MultiDict([("uuid_in[0]", "a"), ("status", "x"), ("uuid_in[1]", "c"), ("status", "y")])
    assert parse_qs_nested(args) == {"uuid_in": ["a", "c"], "status": ["x", "y"]}
    assert parse_qs_nested([("uuid_in[]", "a"), ("uuid_in[]", "c")]) == {"uuid_in": ["a", "c"]}


@pytest.mark.parametrize("query, fragment", [
    ("a[0]=x&a[b]=y", "mixes array indexes and object keys"),
    ("a[b]=y&a[0]=x", "mixes array indexes and object keys"),
    ("a[b]=y&a=x", "both a value and nested keys"),
    ("a=x&a[b]=y", "mixes array indexes and object keys"),
    ("a[b=1", "Malformed"),
    ("a]=1", "Malformed"),
    ("[a]=1", "Malformed"),
    ("a[b]x=1", "Malformed"),
    ("a[b[c]]=1", "Malformed"),
])
def test_qs_malformed_keys_are_refused(query, fragment):
    with pytest.raises(Invalid) as caught:
        parse_qs_nested(query)
    assert fragment in caught.value.message


# -- bounds ------------------------------------------------------------------------------------

def test_depth_bound():
    ok = "_where" + "[0]" * (MAX_DEPTH - 1) + "[status]=x"
    assert where(ok) == {"status": "x"}
    too_deep = "_where" + "[0]" * MAX_DEPTH + "[status]=x"
    invalid(too_deep, "MAX_DEPTH", str(MAX_DEPTH))


def test_array_index_bound():
    assert where(f"uuid_in[{MAX_INDEX}]=a") == {"uuid": {"$in": ["a"]}}
    invalid(f"uuid_in[{MAX_INDEX + 1}]=a", "MAX_INDEX", str(MAX_INDEX + 1), "uuid_in")
    invalid("uuid_in[]=a" * 1 + "".join(f"&uuid_in[]={i}" for i in range(MAX_INDEX + 1)), "MAX_INDEX")


def test_parameter_bound():
    assert where("&".join(["status=x"] * MAX_PARAMS)) == {"$or": [{"status": "x"}] * MAX_PARAMS}
    invalid("&".join(["status=x"] * (MAX_PARAMS + 1)), "MAX_PARAMS", str(MAX_PARAMS))
    with pytest.raises(Invalid, match="MAX_PARAMS"):
        parse_qs_nested([("status", "x")] * (MAX_PARAMS + 1))


def test_value_count_bound():
    assert len(where("uuid_in=" + ",".join(["a"] * MAX_VALUES))["uuid"]["$in"]) == MAX_VALUES
    invalid("uuid_in=" + ",".join(["a"] * (MAX_VALUES + 1)), "MAX_VALUES", "uuid_in")


# -- operators -----------------------------------------------------------------------------------

@pytest.mark.parametrize("query, expected", [
    ("status=queued", {"status": "queued"}),
    ("status_eq=queued", {"status": "queued"}),
    ("score_ne=600", {"score": {"$ne": 600}}),
    ("score_lt=600", {"score": {"$lt": 600}}),
    ("score_lte=600", {"score": {"$lte": 600}}),
    ("score_gt=-5", {"score": {"$gt": -5}}),
    ("score_gte=%2B600", {"score": {"$gte": 600}}),
    ("scoreProbability_gt=0.5", {"scoreProbability": {"$gt": 0.5}}),
    ("scoreProbability_lt=1e-3", {"scoreProbability": {"$lt": 0.001}}),
    ("score_in=1,2", {"score": {"$in": [1, 2]}}),
    ("score_nin[0]=1&score_nin[1]=2", {"score": {"$nin": [1, 2]}}),
    ("uuid_in=", {"uuid": {"$in": []}}),
    ("uuid_contains=a.b", {"uuid": {"$regex": r"a\.b", "$options": "i"}}),
    ("uuid_containss=a*", {"uuid": {"$regex": r"a\*", "$options": ""}}),
    ("uuid_ncontains=a.b", {"uuid": {"$not": Regex(r"a\.b", "i")}}),
    ("uuid_ncontainss=(x", {"uuid": {"$not": Regex(r"\(x", "")}}),
    ("score_null=true", {"score": None}),
    ("score_null=1", {"score": None}),
    ("score_null=false", {"score": {"$ne": None}}),
    ("processed=FALSE", {"processed": False}),
    ("processed=1", {"processed": True}),
    ("created_at_gte=2024-05-01T10:00:00.000Z",
     {"created_at": {"$gte": datetime(2024, 5, 1, 10, tzinfo=timezone.utc)}}),
    ("created_at_lt=2024-05-01", {"created_at": {"$lt": datetime(2024, 5, 1, tzinfo=timezone.utc)}}),
    ("id=0123456789abcdef01234567", {"_id": ObjectId("0123456789abcdef01234567")}),
    ("users_permissions_user=7", {"users_permissions_user": 7}),  # "_user" is no operator: part of the name
])
def test_each_operator(query, expected):
    assert where(query) == expected


def test_repeated_scalar_filter_matches_any_value_as_in_strapi():
    assert where("status=queued&status=failed") == {"$or": [{"status": "queued"}, {"status": "failed"}]}
    assert where("status[]=queued&status[]=failed") == {"$or": [{"status": "queued"}, {"status": "failed"}]}
    assert where("score_gte=1&score_gte=700") == {"$or": [{"score": {"$gte": 1}}, {"score": {"$gte": 700}}]}


def test_top_level_filters_are_anded_with_the_base_filter():
    query = "status=queued&score_gte=600&_limit=3&_start=1&_sort=score:DESC&aid=4&format=csv&wait=2"
    assert strapi_filter(query, FIELDS, {"aid": 4}) == {
        "$and": [{"aid": 4}, {"status": "queued"}, {"score": {"$gte": 600}}]}
    assert strapi_filter("_limit=3", FIELDS, {"aid": 4}) == {"aid": 4}
    assert strapi_filter("", FIELDS) == {}


def test_where_with_or():
    query = "_where[0][score_gte]=600&_where[1][_or][0][status]=queued&_where[1][_or][1][status]=failed"
    assert where(query) == {"$and": [{"score": {"$gte": 600}},
                                     {"$or": [{"status": "queued"}, {"status": "failed"}]}]}
    assert where("_where[_or][0][status]=queued&_where[_or][1][status]=failed") == {
        "$or": [{"status": "queued"}, {"status": "failed"}]}
    assert where("_where[score_gte]=1&_where[status]=x") == {"$and": [{"score": {"$gte": 1}}, {"status": "x"}]}


def test_or_groups_are_ands_and_nest():
    query = ("_where[_or][0][status]=queued&_where[_or][0][score_gte]=600"
             "&_where[_or][1][_or][0][processed]=true&_where[_or][1][_or][1][uuid_in]=a,b")
    assert where(query) == {"$or": [
        {"$and": [{"status": "queued"}, {"score": {"$gte": 600}}]},
        {"$or": [{"processed": True}, {"uuid": {"$in": ["a", "b"]}}]},
    ]}
    assert where("_or[0][status]=a&_or[1][status]=b&score=1") == {
        "$and": [{"$or": [{"status": "a"}, {"status": "b"}]}, {"score": 1}]}
    assert where("_where[_and][0][status]=a&_where[_and][1][score]=2") == {"$and": [{"status": "a"}, {"score": 2}]}
    assert where("_where[_or][status]=a") == {"$or": [{"status": "a"}]}


def test_convert_params_takes_a_parsed_object():
    assert convert_params({"_where": [{"score_lt": "9"}], "_sort": "x"}, FIELDS) == [{"score": {"$lt": 9}}]


# -- refusals ------------------------------------------------------------------------------------

@pytest.mark.parametrize("query, fragments", [
    ("password=x", ("Unknown filter 'password'", "filterable fields are created_at, id")),
    ("uuid_in[0]=a&nope[0]=b", ("Unknown filter 'nope'",)),
    ("_where[1][_or][0][nope]=x", ("Unknown filter '_where[1][_or][0][nope]'",)),
    ("score_gte=abc", ("Invalid value 'abc' for filter 'score_gte'",)),
    ("_where[0][score_gte]=abc", ("Invalid value 'abc' for filter '_where[0][score_gte]'",)),
    ("score=1_000", ("Invalid value '1_000'",)),
    ("score= 5", ("Invalid value ' 5'",)),
    ("score=9223372036854775808", ("Invalid value",)),
    ("score_in=1,x", ("Invalid value 'x' for filter 'score_in'",)),
    ("scoreProbability_gt=nan", ("Invalid value 'nan'",)),
    ("scoreProbability_gt=inf", ("Invalid value 'inf'",)),
    ("scoreProbability_gt=1e999", ("Invalid value '1e999'",)),
    ("processed=yes", ("Invalid value 'yes' for filter 'processed'",)),
    ("score_null=maybe", ("Invalid value 'maybe' for filter 'score_null'",)),
    ("created_at_gt=yesterday", ("Invalid value 'yesterday'",)),
    ("id=abcdefghijkl", ("Invalid value 'abcdefghijkl' for filter 'id'",)),
    ("score_contains=5", ("'score_contains': contains filters apply to text fields only",)),
    ("_where=x", ("'_where' must be an object of filters or a list of them",)),
    ("_where[0]=x", ("'_where[0]' must be an object",)),
    ("_or=x", ("'_or[0]' must be an object",)),
    ("_where[_or]=", ("'_where[_or][0]' must be an object",)),
    ("_where[_where][status]=x", ("Unknown filter '_where[_where]'",)),
    ("uuid_in[0][x]=a", ("'uuid_in' takes a list of values, not nested keys",)),
])
def test_refusals_name_the_filter(query, fragments):
    invalid(query, *fragments)


@pytest.mark.parametrize("query", [
    "score[$gt]=",              # {"score": {"$gt": ""}}
    "score[%24gt]=0",
    "uuid[$ne]=x",
    "status[$regex]=.*",
    "_where[status][$ne]=x",
    "_where[0][status][$in][]=x",
    "_or[0][status][$exists]=true",
    "uuid_in[$gt]=a",
])
def test_operator_objects_cannot_be_smuggled_in_as_values(query):
    message = invalid(query)
    assert "nested keys" in message or "mixes" in message


@pytest.mark.parametrize("query, name", [
    ("$where=1", "$where"),
    ("%24where=sleep(1000)", "$where"),
    ("$or[0][status]=x", "$or"),
    ("_where[$or][0][status]=x", "_where[$or]"),
    ("_where[0][$expr][x]=1", "_where[0][$expr]"),
    ("features.income=1", "features.income"),
    ("features.income_gt=1", "features.income_gt"),
    ("status.x=1", "status.x"),
    ("_where[status.$ne]=x", "_where[status.$ne]"),
    ("aid_ne=1", "aid_ne"),
])
def test_operator_and_dotted_keys_are_unknown_filters(query, name):
    invalid(query, f"Unknown filter {name!r}")


def test_every_key_of_a_built_filter_is_a_declared_path_or_an_operator_written_here():
    paths = {path for path, _ in FIELDS.values()}
    operators = {"$and", "$or", "$in", "$nin", "$ne", "$lt", "$lte", "$gt", "$gte", "$regex", "$options", "$not"}
    query = ("_where[0][score_gte]=600&_where[1][_or][0][status]=queued&_where[1][_or][1][uuid_ncontains]=x"
             "&uuid_in[]=a&processed=true&score_null=false&created_at_lt=2024-01-01&id_nin=0123456789abcdef01234567")

    def keys(node):
        if isinstance(node, dict):
            for key, value in node.items():
                yield key
                yield from keys(value)
        elif isinstance(node, list):
            for item in node:
                yield from keys(item)

    found = set(keys(where(query)))
    assert found <= paths | operators, found - paths - operators


# -- the filters on a real MongoDB-protocol server ------------------------------------------------

def test_filters_select_the_right_documents(db):
    """The operators as SecantusDB (the MongoDB wire protocol the tests use) evaluates them."""
    when = datetime(2024, 5, 1, tzinfo=timezone.utc)
    docs = [
        {"uuid": "alpha-1", "status": "queued", "score": 610, "processed": False, "created_at": when},
        {"uuid": "Beta-2", "status": "failed", "score": None, "processed": False, "created_at": when},
        {"uuid": "gamma.3", "status": "processed", "score": 420, "processed": True, "created_at": when},
    ]
    db.strapi_query_probe.insert_many(docs)

    def uuids(query):
        return sorted(doc["uuid"] for doc in db.strapi_query_probe.find(where(query)))

    assert uuids("uuid_in[0]=alpha-1&uuid_in[1]=gamma.3") == ["alpha-1", "gamma.3"]
    assert uuids("uuid_nin[]=alpha-1") == ["Beta-2", "gamma.3"]
    assert uuids("status_eq=failed") == ["Beta-2"]
    assert uuids("status_ne=failed") == ["alpha-1", "gamma.3"]
    assert uuids("score_gte=420&score_lt=611") == ["alpha-1", "gamma.3"]
    assert uuids("score_gt=420") == ["alpha-1"]
    assert uuids("score_lte=420") == ["gamma.3"]
    assert uuids("uuid_contains=BETA") == ["Beta-2"]
    assert uuids("uuid_containss=BETA") == []
    assert uuids("uuid_ncontains=beta") == ["alpha-1", "gamma.3"]
    assert uuids("uuid_ncontainss=beta") == ["Beta-2", "alpha-1", "gamma.3"]
    assert uuids("uuid_contains=.") == ["gamma.3"]  # a dot is a dot, not "any character"
    assert uuids("score_null=true") == ["Beta-2"]
    assert uuids("score_null=false") == ["alpha-1", "gamma.3"]
    assert uuids("processed=true") == ["gamma.3"]
    assert uuids("status=queued&status=failed") == ["Beta-2", "alpha-1"]
    assert uuids("_where[0][score_gte]=600&_where[1][_or][0][status]=queued&_where[1][_or][1][status]=failed") \
        == ["alpha-1"]
    assert uuids("_where[_or][0][status]=queued&_where[_or][1][score_lt]=500") == ["alpha-1", "gamma.3"]
    assert uuids("created_at_gte=2024-05-01T00:00:00Z") == ["Beta-2", "alpha-1", "gamma.3"]
    assert uuids("created_at_gt=2024-05-01T00:00:00Z") == []


def test_a_contains_filter_is_bounded_before_it_becomes_a_pattern():
    fields = {"uuid": ("uuid", str)}
    assert strapi_filter("uuid_contains=" + "." * 200, fields) == {"uuid": {"$regex": "\\." * 200, "$options": "i"}}
    with pytest.raises(Invalid, match="at most 200 characters"):
        strapi_filter("uuid_ncontainss=" + "x" * 201, fields)


def test_a_nul_in_a_contains_filter_is_an_escape_not_a_nul(db):
    db.notes.insert_many([{"text": "a\x00b"}, {"text": "ab"}])
    fields = {"text": ("text", str)}
    for query, expected in (("text_contains=a%00b", ["a\x00b"]), ("text_ncontains=%00", ["ab"])):
        found = [d["text"] for d in db.notes.find(strapi_filter(query, fields), {"_id": 0})]
        assert found == expected, query
