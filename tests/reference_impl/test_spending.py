"""Budget downgrades shorten the context without breaking a tool call."""

from reference_impl.spending import shorter_context


def _messages(*roles):
    return [{"role": role, "content": f"{role} {index}"} for index, role in enumerate(roles)]


def test_the_system_message_and_the_last_ones_are_kept():
    messages = _messages("system", "user", "assistant", "user", "assistant", "user")
    kept = shorter_context(messages, 2)
    assert kept == [messages[0], messages[4], messages[5]]


def test_a_short_context_is_kept_whole():
    messages = _messages("user", "assistant", "user")
    assert shorter_context(messages, 6) == messages


def test_the_cut_never_opens_on_a_tool_result():
    messages = _messages("system", "user", "assistant", "tool", "tool", "user")
    kept = shorter_context(messages, 3)
    assert [m["role"] for m in kept] == ["system", "assistant", "tool", "tool", "user"]
