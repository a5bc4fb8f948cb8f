"""SSE framing and field parsing, by the rules of the HTML standard's event-stream format."""

from providers.sse import Event, SSEInspector, parse_event


class Collector(SSEInspector):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_event(self, event):
        self.events.append(event)


def test_it_parses_the_fields_of_one_event():
    raw = b'event: message_delta\r\ndata: {"a": 1}\r\ndata:second\r\nid: 7\r\n: a comment\r\n\r\n'

    assert parse_event(raw) == Event("message_delta", '{"a": 1}\nsecond')


def test_it_names_an_unnamed_event_message_and_keeps_all_but_one_leading_space():
    assert parse_event(b"data:  two spaces\rdata\r\r") == Event("message", " two spaces\n")


def test_it_finds_no_event_in_comments_alone():
    assert parse_event(b": keep-alive\n\n") is None


def test_it_frames_events_across_chunks_and_hands_on_the_raw_bytes_unchanged():
    stream = b'event: a\ndata: 1\n\n: ping\n\ndata: {"x":\ndata: 2}\r\n\r\n'
    inspector, raw = Collector(), []
    for i in range(0, len(stream), 5):
        raw += inspector.feed(stream[i : i + 5])

    assert b"".join(raw) == stream
    assert inspector.events == [Event("a", "1"), Event("message", '{"x":\n2}')]
