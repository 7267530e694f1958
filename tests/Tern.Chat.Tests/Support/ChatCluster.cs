using Xunit.Abstractions;

namespace Tern.Chat.Tests.Support;

/// <summary>
/// Tern.Chat on several nodes, as docs/scale-out.md runs it: a database of its own on the test collection's
/// PostgreSQL, each node a process of its own, nginx in front. Disposing stops everything (even when the test failed)
/// and writes every node's output and nginx's error log to the test's output, which the runner shows for a failure.
/// </summary>
public sealed class ChatCluster : IAsyncDisposable
{
    /// <summary>
    /// The nodes' settings: nginx trusted for X-Forwarded-For and no socket limit per address, as docs/scale-out.md
    /// runs nodes; every test client comes from 127.0.0.1, so the per-address limits are lifted; the room directory is
    /// pushed sooner.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> TestSettings = new Dictionary<string, string>
    {
        ["TERN_CHAT_TRUSTEDPROXIES"] = "127.0.0.1",
        ["TERN_CHAT_MAXCONNECTIONSPERADDRESS"] = "0",
        ["TERN_CHAT_ACCOUNTS__SIGNUPLIMIT"] = "10000",
        ["TERN_CHAT_ACCOUNTS__ADDRESSATTEMPTLIMIT"] = "10000",
        ["TERN_CHAT_HUB__RATELIMITCOUNT"] = "10000",
        ["TERN_CHAT_HUB__ADDRESSRATELIMITCOUNT"] = "100000",
        ["TERN_CHAT_HUB__REQUESTLIMITCOUNT"] = "100000",
        ["TERN_CHAT_HUB__ADDRESSROOMCREATIONLIMIT"] = "10000",
        ["TERN_CHAT_HUB__ROOMLISTDELAY"] = "00:00:00.100",
    };

    private readonly PostgresFixture _postgres;
    private readonly ITestOutputHelper? _output;
    private readonly List<ChatNode> _nodes = [];

    private ChatCluster(PostgresFixture postgres, string connectionString, ITestOutputHelper? output)
    {
        _postgres = postgres;
        ConnectionString = connectionString;
        _output = output;
    }

    /// <summary>The nodes' database.</summary>
    public string ConnectionString { get; }

    public IReadOnlyList<ChatNode> Nodes => _nodes;

    /// <summary>nginx in front of every node; null when the cluster was started without it.</summary>
    public NginxProxy? Proxy { get; private set; }

    /// <summary>The page's address through nginx.</summary>
    public Uri Url => Proxy?.Url ?? throw new InvalidOperationException("This cluster has no nginx.");

    /// <summary>Starts <paramref name="nodes"/> nodes at once on a new database, then nginx in front of them.</summary>
    public static async Task<ChatCluster> StartAsync(PostgresFixture postgres, int nodes, ITestOutputHelper? output, bool nginx = true, IReadOnlyDictionary<string, string>? settings = null)
    {
        var cluster = new ChatCluster(postgres, await postgres.CreateDatabaseAsync(), output);
        try
        {
            // At once, as a deployment starts them: the schema is created under an advisory lock.
            Task<ChatNode>[] starting = Enumerable.Range(1, nodes)
                .Select(n => ChatNode.StartAsync($"node{n}", cluster.ConnectionString, settings ?? TestSettings))
                .ToArray();
            try
            {
                await Task.WhenAll(starting);
            }
            finally
            {
                cluster._nodes.AddRange(starting.Where(t => t.IsCompletedSuccessfully).Select(t => t.Result));
            }

            if (nginx)
            {
                cluster.Proxy = await NginxProxy.StartAsync(cluster._nodes.Select(n => n.Port));
            }

            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>The node nginx says it used (the <c>X-Tern-Node</c> header, <c>$upstream_addr</c>); the last one tried when it tried several.</summary>
    public ChatNode NodeAt(string upstreamAddress)
    {
        string last = upstreamAddress.Split(',').Last().Trim();
        return _nodes.FirstOrDefault(n => n.Address == last) ?? throw new InvalidOperationException($"No node at {upstreamAddress}.");
    }

    /// <summary>Every node's output and nginx's log, for a failure message.</summary>
    public string Describe() => string.Join('\n', _nodes.Select(n => n.Describe()).Append(Proxy?.Describe() ?? ""));

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Task.WhenAll(_nodes.Select(n => n.DisposeAsync().AsTask()));
        }
        finally
        {
            // Written to the test's output, which the runner shows when the test failed.
            _output?.WriteLine(Describe());
            if (Proxy is not null)
            {
                await Proxy.DisposeAsync();
            }

            await _postgres.DropDatabaseAsync(ConnectionString);
        }
    }
}
