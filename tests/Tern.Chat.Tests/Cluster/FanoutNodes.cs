using System.Text.Json;
using Npgsql;
using Tern.Chat.Cluster;
using Tern.Chat.Hub;
using Tern.Chat.Storage;
using Tern.Chat.Tests.Hub;
using Tern.Chat.Tests.Support;

namespace Tern.Chat.Tests.Cluster;

/// <summary>
/// Chat nodes in one test process on one real PostgreSQL database: each node its own store (pool), its own
/// <see cref="PostgresChatFanout"/> (listening connection) and its own hub with a recording transport.
/// </summary>
public sealed class FanoutNodes : IAsyncDisposable
{
    private static readonly DateTimeOffset Created = DateTimeOffset.FromUnixTimeMilliseconds(1_750_000_000_000);
    private readonly List<Node> _nodes = [];
    private long _nextClient;

    private FanoutNodes(string connectionString) => ConnectionString = connectionString;

    public string ConnectionString { get; }

    public IReadOnlyList<Node> Nodes => _nodes;

    /// <summary>What the nodes logged (for failure messages).</summary>
    public CollectingLoggerProvider Log { get; } = new();

    private Microsoft.Extensions.Logging.LoggerFactory _loggers => field ??= new([Log]);

    public static async Task<FanoutNodes> StartAsync(string connectionString, int count, PostgresFanoutOptions? options = null)
    {
        var nodes = new FanoutNodes(connectionString);
        try
        {
            for (int i = 0; i < count; i++)
            {
                await nodes.AddNodeAsync(options);
            }
        }
        catch
        {
            await nodes.DisposeAsync();
            throw;
        }

        return nodes;
    }

    public async Task<Node> AddNodeAsync(PostgresFanoutOptions? options = null)
    {
        PostgresChatDatabase store = await PostgresChatDatabase.OpenAsync(ConnectionString);
        PostgresChatFanout fanout = await PostgresChatFanout.StartAsync(store, options ?? new PostgresFanoutOptions(), new Microsoft.Extensions.Logging.Logger<PostgresChatFanout>(_loggers));
        var transport = new RecordingTransport();
        var hub = new ChatHub(store, store, fanout, transport, new ChatHubOptions { RoomListDelay = TimeSpan.FromMilliseconds(20), RateLimitCount = 10_000, AddressRateLimitCount = 10_000, RequestLimitCount = 10_000, PresenceInterval = TimeSpan.Zero });
        var node = new Node(this, store, fanout, hub, transport);
        _nodes.Add(node);
        return node;
    }

    public async Task<Account> AccountAsync(string username)
    {
        string key = username.ToLowerInvariant();
        Account? account = await _nodes[0].Store.CreateAccountAsync(new NewAccount(
            username, key, "skel:" + key, char.ToUpperInvariant(username[0]) + username[1..], "$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA", Created));
        return account ?? throw new InvalidOperationException($"{username} exists already");
    }

    /// <summary>Runs SQL on the test database (outside every node).</summary>
    public async Task<T?> ScalarAsync<T>(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        object? value = await command.ExecuteScalarAsync();
        return value is null or DBNull ? default : (T)value;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (Node node in _nodes)
        {
            await node.StopAsync();
        }
    }

    public sealed class Node(FanoutNodes nodes, PostgresChatDatabase store, PostgresChatFanout fanout, ChatHub hub, RecordingTransport transport)
    {
        private bool _stopped;

        public PostgresChatDatabase Store { get; } = store;

        public PostgresChatFanout Fanout { get; } = fanout;

        public ChatHub Hub { get; } = hub;

        public RecordingTransport Transport { get; } = transport;

        public async Task<TestClient> ConnectAsync(Account account)
        {
            var client = new TestClient(Interlocked.Increment(ref nodes._nextClient));
            await Hub.ConnectAsync(client, new ChatIdentity(account.Id, account.Username, account.DisplayName), "192.0.2.1");
            Assert.Equal("hello", client.Received[0].Str("type"));
            return client;
        }

        public ValueTask SendAsync(TestClient client, object request) => Hub.ReceiveAsync(client, Json.Utf8(JsonSerializer.Serialize(request)));

        /// <summary>Joins a room and returns its conversation id (the answer comes back through PostgreSQL).</summary>
        public async Task<long> JoinAsync(TestClient client, string room)
        {
            int before = client.OfType("joined").Count;
            await SendAsync(client, new { type = "join", room });
            JsonElement joined = await client.WaitForAsync("joined", before + 1);
            return joined.GetProperty("conversation").Long("id");
        }

        /// <summary>Kills this node's listening connection from the server side, as a network failure or a server restart would.</summary>
        public Task<bool> KillListenerAsync() =>
            nodes.ScalarAsync<bool>($"SELECT bool_or(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '{PostgresChatFanout.ListenerApplicationName(Fanout.NodeId)}';");

        public async Task StopAsync()
        {
            if (_stopped)
            {
                return;
            }

            _stopped = true;
            await Hub.DisposeAsync();
            await Fanout.DisposeAsync();
            await Store.DisposeAsync();
        }
    }
}
