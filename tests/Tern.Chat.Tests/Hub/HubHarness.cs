using System.Text.Json;
using Tern.Chat.Hub;
using Tern.Chat.Storage;
using Tern.Chat.Tests.Support;

namespace Tern.Chat.Tests.Hub;

/// <summary>A <see cref="ChatHub"/> on a real in-memory SQLite store, with a recording transport and a hand-moved clock.</summary>
public sealed class HubHarness : IAsyncDisposable
{
    private static readonly DateTimeOffset Created = DateTimeOffset.FromUnixTimeMilliseconds(1_750_000_000_000);
    private long _nextClient;
    private ChatHub? _hub;

    private HubHarness(SqliteChatDatabase store) => Store = store;

    public SqliteChatDatabase Store { get; }

    public RecordingTransport Transport { get; } = new();

    public ManualTimeProvider Time { get; } = new();

    public ChatHubOptions Options { get; } = new() { RoomListDelay = TimeSpan.FromMilliseconds(20) };

    /// <summary>The hub, created on first use (so a test can set <see cref="Options"/> first).</summary>
    public ChatHub Hub => _hub ??= new ChatHub(Store, Store, Fanout, Transport, Options, Time);

    /// <summary>The hub's fan-out (this process only), for events a fan-out between nodes would bring.</summary>
    public LocalChatFanout Fanout { get; } = new();

    public static async Task<HubHarness> StartAsync(Action<ChatHubOptions>? configure = null)
    {
        var harness = new HubHarness(await SqliteChatDatabase.OpenAsync(SqliteChatDatabase.InMemoryPath));
        configure?.Invoke(harness.Options);
        return harness;
    }

    /// <summary>Creates an account (its display name the username with a capital, unless given).</summary>
    public async Task<Account> AccountAsync(string username, string? displayName = null)
    {
        string key = username.ToLowerInvariant();
        Account? account = await Store.CreateAccountAsync(new NewAccount(
            username, key, "skel:" + key, displayName ?? char.ToUpperInvariant(username[0]) + username[1..], "$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA", Created));
        return account ?? throw new InvalidOperationException($"{username} exists already");
    }

    /// <summary>Opens a connection for the account and checks that hello came first.</summary>
    public async Task<TestClient> ConnectAsync(Account account, string address = "192.0.2.1")
    {
        var client = new TestClient(Interlocked.Increment(ref _nextClient));
        await Hub.ConnectAsync(client, new ChatIdentity(account.Id, account.Username, account.DisplayName), address);
        Assert.Equal("hello", client.Received[0].Str("type"));
        return client;
    }

    public ValueTask SendAsync(TestClient client, object request) => Hub.ReceiveAsync(client, Json.Utf8(JsonSerializer.Serialize(request)));

    public ValueTask SendRawAsync(TestClient client, string json) => Hub.ReceiveAsync(client, Json.Utf8(json));

    /// <summary>Joins a room and returns its conversation id.</summary>
    public async Task<long> JoinAsync(TestClient client, string room)
    {
        int before = client.OfType("joined").Count;
        await SendAsync(client, new { type = "join", room });
        IReadOnlyList<JsonElement> joined = client.OfType("joined");
        Assert.True(joined.Count > before, $"No joined: {string.Join(", ", client.Received.Select(m => m.GetRawText()))}");
        return joined[^1].GetProperty("conversation").Long("id");
    }

    /// <summary>Opens the direct conversation with someone and returns its id.</summary>
    public async Task<long> DirectAsync(TestClient client, string username)
    {
        int before = client.OfType("conversation").Count;
        await SendAsync(client, new { type = "dm", username });
        IReadOnlyList<JsonElement> opened = client.OfType("conversation");
        Assert.True(opened.Count > before, $"No conversation: {string.Join(", ", client.Received.Select(m => m.GetRawText()))}");
        return opened[^1].GetProperty("conversation").Long("id");
    }

    /// <summary>Says something and returns the message as its author got it back.</summary>
    public async Task<JsonElement> SayAsync(TestClient client, long conversation, string text, string? clientRef = null)
    {
        clientRef ??= "r" + Guid.NewGuid().ToString("N")[..8];
        await SendAsync(client, new { type = "say", conversation, text, @ref = clientRef });
        return client.OfType("message").LastOrDefault(m => m.TryGetProperty("ref", out JsonElement r) && r.GetString() == clientRef) is { ValueKind: JsonValueKind.Object } message
            ? message
            : throw new Xunit.Sdk.XunitException($"No message for {clientRef}: {string.Join(", ", client.Received.Select(m => m.GetRawText()))}");
    }

    public async ValueTask DisposeAsync()
    {
        if (_hub is not null)
        {
            await _hub.DisposeAsync();
        }

        await Store.DisposeAsync();
    }
}

public static class HubJson
{
    public static JsonElement Error(this TestClient client) => client.Last("error");

    public static string ErrorCode(this TestClient client) => client.Last("error").Str("code");

    public static bool Bool(this JsonElement element, string property) => element.GetProperty(property).GetBoolean();

    public static int Int(this JsonElement element, string property) => element.GetProperty(property).GetInt32();

    public static bool Has(this JsonElement element, string property) => element.TryGetProperty(property, out _);
}
