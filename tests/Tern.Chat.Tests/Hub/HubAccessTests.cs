using System.Text.Json;
using Tern.Chat.Storage;
using Tern.Chat.Tests.Support;

namespace Tern.Chat.Tests.Hub;

/// <summary>A third account can reach a direct conversation by no request at all, and cannot tell it from one that does not exist.</summary>
public sealed class HubAccessTests : IAsyncLifetime
{
    private HubHarness _h = null!;
    private TestClient _alice = null!;
    private TestClient _bob = null!;
    private TestClient _carol = null!;
    private long _direct;
    private long _messageId;

    public async Task InitializeAsync()
    {
        _h = await HubHarness.StartAsync();
        _alice = await _h.ConnectAsync(await _h.AccountAsync("alice"));
        _bob = await _h.ConnectAsync(await _h.AccountAsync("bob"));
        _carol = await _h.ConnectAsync(await _h.AccountAsync("carol"));
        _direct = await _h.DirectAsync(_alice, "bob");
        _messageId = (await _h.SayAsync(_alice, _direct, "our secret plan")).Long("id");
        _carol.Clear();
    }

    public async Task DisposeAsync() => await _h.DisposeAsync();

    public static TheoryData<string> ConversationRequests => new()
    {
        """{"type":"history","conversation":CONV,"ref":"x"}""",
        """{"type":"history","conversation":CONV,"after":0,"ref":"x"}""",
        """{"type":"search","query":"secret","conversation":CONV,"ref":"x"}""",
        """{"type":"read","conversation":CONV,"id":MSG,"ref":"x"}""",
        """{"type":"typing","conversation":CONV,"ref":"x"}""",
        """{"type":"members","conversation":CONV,"ref":"x"}""",
        """{"type":"say","conversation":CONV,"text":"let me in","ref":"x"}""",
        """{"type":"leave","conversation":CONV,"ref":"x"}""",
    };

    [Theory]
    [MemberData(nameof(ConversationRequests))]
    public async Task A_request_about_someone_elses_conversation_is_not_member_exactly_like_a_missing_one(string template)
    {
        await _h.SendRawAsync(_carol, template.Replace("CONV", _direct.ToString()).Replace("MSG", _messageId.ToString()));
        JsonElement refused = _carol.Error();
        await _h.SendRawAsync(_carol, template.Replace("CONV", "987654").Replace("MSG", _messageId.ToString()));
        JsonElement missing = _carol.Error();

        Assert.Equal("not_member", refused.Str("code"));
        Assert.Equal(missing.Str("code"), refused.Str("code"));
        Assert.Equal(missing.Str("message"), refused.Str("message"));
        Assert.Equal("x", refused.Str("ref"));
        Assert.DoesNotContain(_carol.Received, m => m.GetRawText().Contains("secret plan", StringComparison.Ordinal));
        Assert.Empty(_alice.OfType("typing"));
        Assert.Single(await _h.Store.GetBeforeAsync(_direct, null, 10));
    }

    [Theory]
    [InlineData("edit")]
    [InlineData("delete")]
    public async Task Editing_or_deleting_someone_elses_message_by_id_is_no_such_message_exactly_like_a_missing_one(string type)
    {
        await _h.SendAsync(_carol, new { type, id = _messageId, text = "changed" });
        JsonElement refused = _carol.Error();
        await _h.SendAsync(_carol, new { type, id = 987654, text = "changed" });
        JsonElement missing = _carol.Error();

        Assert.Equal("no_such_message", refused.Str("code"));
        Assert.Equal(missing.Str("message").Replace("987654", _messageId.ToString()), refused.Str("message"));
        StoredMessage stored = (await _h.Store.GetMessageAsync(_messageId))!;
        Assert.Equal("our secret plan", stored.Text);
        Assert.False(stored.Deleted);
        Assert.Empty(_alice.OfType("edited"));
        Assert.Empty(_alice.OfType("deleted"));
    }

    [Fact]
    public async Task Searching_everything_finds_nothing_from_someone_elses_conversation()
    {
        await _h.SendAsync(_carol, new { type = "search", query = "secret" });

        Assert.Empty(_carol.Last("results").GetProperty("messages").EnumerateArray());
        await _h.SendAsync(_bob, new { type = "search", query = "secret" });
        Assert.Single(_bob.Last("results").GetProperty("messages").EnumerateArray());
    }

    [Fact]
    public async Task Nothing_said_in_a_direct_conversation_reaches_anyone_else()
    {
        await _h.SayAsync(_bob, _direct, "reply");
        await _h.SendAsync(_bob, new { type = "typing", conversation = _direct });

        Assert.Empty(_carol.Received);
        Assert.Single(_alice.OfType("typing"));
    }
}
