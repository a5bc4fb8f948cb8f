"""Object ids in URLs and query filters: at most 18 digits, so that every id the API accepts fits the database's
64-bit integers (a larger one made the database fail, a 500, where the answer is 404 or 400)."""

MAX_ID = 10**18 - 1
ID_SCHEMA = {"type": "integer", "minimum": 0, "maximum": MAX_ID}  # how the schema describes `<id:...>`


class IdConverter:
    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)
