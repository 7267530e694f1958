using System.Diagnostics;
using System.Text.Json;
using Tern.Chat.Cluster;
using Tern.Chat.Hub;
using Tern.Chat.Storage;
using Tern.Chat.Tests.Hub;
using Tern.Chat.Tests.Support;

namespace Tern.Chat.Tests.Cluster;

/// <summary>
/// <see cref="PostgresChatFanout"/> between hubs in this process on one real PostgreSQL database: the order of a
/// conversation on every node, everything that crosses nodes, catching up after the listening connection drops,
/// events over the NOTIFY size limit, and presence over several nodes with heartbeats.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresChatFanoutTests(PostgresFixture postgres) : IAsyncLifetime
{
    private string _connectionString = "";

    public async Task InitializeAsync() => _connectionString = await postgres.CreateDatabaseAsync();

    public Task DisposeAsync() => postgres.DropDatabaseAsync(_connectionString);

    [Fact]
    public async Task Messages_said_at_once_on_two_nodes_reach_every_member_on_both_in_one_order()
    {
        await using FanoutNodes cluster = await FanoutNodes.StartAsync(_connectionString, 2);
        (FanoutNodes.Node a, FanoutNodes.Node b) = (cluster.Nodes[0], cluster.Nodes[1]);
        TestClient alice = await a.ConnectAsync(await cluster.AccountAsync("alice"));
        TestClient bob = await b.ConnectAsync(await cluster.AccountAsync("bob"));
        Account carol = await cluster.AccountAsync("carol");
        TestClient carolOnA = await a.ConnectAsync(carol);
        TestClient carolOnB = await b.ConnectAsync(carol);
        long room = await a.JoinAsync(alice, "general");
        Assert.Equal(room, await b.JoinAsync(bob, "general"));
        await b.JoinAsync(carolOnB, "general");
        await alice.WaitForAsync("member_joined", 2); // bob's and carol's joins, made on the other node

        const int Each = 30;
        await Task.WhenAll(
            Task.Run(async () =>
            {
                for (int i = 0; i < Each; i++)
                {
                    await a.SendAsync(alice, new { type = "say", conversation = room, text = $"a{i}", @ref = $"a{i}" });
                }
            }),
            Task.Run(async () =>
            {
                for (int i = 0; i < Each; i++)
                {
                    await b.SendAsync(bob, new { type = "say", conversation = room, text = $"b{i}", @ref = $"b{i}" });
                }
            }));

        long[] stored = (await a.Store.GetAfterAsync(room, 0, 1000)).Select(m => m.Id).ToArray();
        Assert.Equal(2 * Each, stored.Length);
        foreach (TestClient client in new[] { alice, bob, carolOnA, carolOnB })
        {
            await client.WaitForAsync("message", 2 * Each, TimeSpan.FromSeconds(20));
            Assert.Equal(stored, client.OfType("message").Select(m => m.Long("id")));
        }

        // Each author's own messages in the order they were said, with their refs.
        Assert.Equal(Enumerable.Range(0, Each).Select(i => $"a{i}"), alice.OfType("message").Where(m => m.Str("author") == "alice").Select(m => m.Str("ref")));
    }

    [Fact]
    public async Task Edits_deletions_typing_joins_read_positions_and_sign_outs_cross_nodes()
    {
        await using FanoutNodes cluster = await FanoutNodes.StartAsync(_connectionString, 2);
        (FanoutNodes.Node a, FanoutNodes.Node b) = (cluster.Nodes[0], cluster.Nodes[1]);
        Account bobAccount = await cluster.AccountAsync("bob");
        TestClient alice = await a.ConnectAsync(await cluster.AccountAsync("alice"));
        TestClient bob = await b.ConnectAsync(bobAccount);
        TestClient bobOnA = await a.ConnectAsync(bobAccount);
        long room = await a.JoinAsync(alice, "general");
        await b.JoinAsync(bob, "general");
        Assert.Equal("bob", (await alice.WaitForAsync("member_joined")).GetProperty("member").Str("username"));
        await bobOnA.WaitForAsync("joined"); // bob's other device, on the other node, hears of his join too

        // The room directory's counts follow joins made on any node.
        await WaitUntilAsync(() => alice.OfType("rooms").Any(r => r.GetProperty("rooms").EnumerateArray().Any(e => e.Str("name") == "general" && e.Int("members") == 2)), "the directory showing 2 members");

        await a.SendAsync(alice, new { type = "say", conversation = room, text = "hello", @ref = "1" });
        long id = (await bob.WaitForAsync("message")).Long("id");
        await a.SendAsync(alice, new { type = "edit", id, text = "hello again" });
        Assert.Equal("hello again", (await bob.WaitForAsync("edited")).GetProperty("message").Str("text"));
        await a.SendAsync(alice, new { type = "delete", id });
        Assert.Equal(id, (await bob.WaitForAsync("deleted")).Long("id"));

        await b.SendAsync(bob, new { type = "typing", conversation = room });
        Assert.Equal("bob", (await alice.WaitForAsync("typing")).Str("username"));

        // A person's devices agree on the read position wherever they are connected.
        await b.SendAsync(bob, new { type = "read", conversation = room, id });
        Assert.Equal(id, (await bobOnA.WaitForAsync("read")).Long("lastRead"));

        await a.SendAsync(alice, new { type = "leave", conversation = room });
        Assert.Equal("alice", (await bob.WaitForAsync("member_left")).Str("username"));

        // Signing out everywhere closes the account's sockets on every node.
        await a.Hub.SignOutAsync(bobAccount.Id);
        await WaitUntilAsync(() => b.Transport.Closed.Any(c => c.ClientId == bob.Id && c.Code == ChatHub.SignedOutCloseCode), "bob's socket on the other node closed");
        Assert.Contains(a.Transport.Closed, c => c.ClientId == bobOnA.Id);
    }

    [Fact]
    public async Task An_event_too_large_for_a_notification_is_read_from_its_row()
    {
        await using FanoutNodes cluster = await FanoutNodes.StartAsync(_connectionString, 2);
        (FanoutNodes.Node a, FanoutNodes.Node b) = (cluster.Nodes[0], cluster.Nodes[1]);
        (TestClient alice, TestClient bob, long room) = await AliceOnOneBobOnTheOtherAsync(cluster);

        string text = new('あ', 4000); // 12,000 bytes of UTF-8: over PostgreSQL's 8,000-byte NOTIFY limit
        await a.SendAsync(alice, new { type = "say", conversation = room, text });
        await a.SendAsync(alice, new { type = "say", conversation = room, text = "small" });
        Assert.Equal(text, (await bob.WaitForAsync("message")).Str("text"));
        Assert.Equal("small", (await bob.WaitForAsync("message", 2)).Str("text"));
        Assert.Equal(text, (await alice.WaitForAsync("message")).Str("text"));
    }

    [Fact]
    public async Task A_node_whose_listening_connection_drops_catches_up_on_every_message_once_and_in_order()
    {
        await using FanoutNodes cluster = await FanoutNodes.StartAsync(_connectionString, 2);
        (FanoutNodes.Node a, FanoutNodes.Node b) = (cluster.Nodes[0], cluster.Nodes[1]);
        (TestClient alice, TestClient bob, long room) = await AliceOnOneBobOnTheOtherAsync(cluster);
        await a.SendAsync(alice, new { type = "say", conversation = room, text = "before" });
        await bob.WaitForAsync("message");
        using var counters = new MeterCounters(b.Fanout.Metrics.Meter);

        for (int round = 0; round < 2; round++)
        {
            Assert.True(await b.KillListenerAsync(), "no listening connection to kill");
            for (int i = 0; i < 20; i++)
            {
                await a.SendAsync(alice, new { type = "say", conversation = room, text = $"{round}/{i}" });
            }

            await bob.WaitForAsync("message", 1 + (round + 1) * 20, TimeSpan.FromSeconds(20));
        }

        await WaitUntilAsync(() => b.Fanout.IsListening, "the node listening again");
        await a.SendAsync(alice, new { type = "say", conversation = room, text = "after" });
        await bob.WaitForAsync("message", 42, TimeSpan.FromSeconds(20));
        await Task.Delay(300); // a duplicate would arrive now
        long[] stored = (await a.Store.GetAfterAsync(room, 0, 1000)).Select(m => m.Id).ToArray();
        Assert.Equal(stored, bob.OfType("message").Select(m => m.Long("id")));
        Assert.Equal(2, counters["tern.chat.fanout.reconnects"]);
        Assert.True(counters["tern.chat.fanout.delivered"] >= 41, $"{counters["tern.chat.fanout.delivered"]} delivered");
    }

    [Fact]
    public async Task Presence_adds_up_over_nodes_and_a_stopping_node_takes_its_accounts_offline_everywhere()
    {
        await using FanoutNodes cluster = await FanoutNodes.StartAsync(_connectionString, 2);
        (FanoutNodes.Node a, FanoutNodes.Node b) = (cluster.Nodes[0], cluster.Nodes[1]);
        Account aliceAccount = await cluster.AccountAsync("alice");
        TestClient bob = await b.ConnectAsync(await cluster.AccountAsync("bob"));
        TestClient setup = await a.ConnectAsync(aliceAccount);
        long room = await a.JoinAsync(setup, "general");
        await b.JoinAsync(bob, "general");
        await a.Hub.DisconnectAsync(setup);
        await WaitForPresenceAsync(bob, "alice", "offline");

        TestClient aliceOnA = await a.ConnectAsync(aliceAccount);
        await WaitForPresenceAsync(bob, "alice", "online");
        TestClient aliceOnB = await b.ConnectAsync(aliceAccount);
        await a.Hub.DisconnectAsync(aliceOnA);
        await b.SendAsync(aliceOnB, new { type = "typing", conversation = room }); // something after, through the same stream
        await bob.WaitForAsync("typing");
        Assert.Equal("online", LastPresence(bob, "alice")); // still connected on the other node

        await b.Hub.DisconnectAsync(aliceOnB);
        await WaitForPresenceAsync(bob, "alice", "offline");

        // A node that stops leaves the cluster: its accounts go offline on the others at once.
        await a.ConnectAsync(aliceAccount);
        await WaitForPresenceAsync(bob, "alice", "online");
        await a.StopAsync();
        await WaitForPresenceAsync(bob, "alice", "offline", TimeSpan.FromSeconds(3));
    }

    [Fact]
    public async Task A_node_that_stops_heartbeating_is_given_up_within_the_timeout_and_its_accounts_go_offline()
    {
        var options = new PostgresFanoutOptions { HeartbeatInterval = TimeSpan.FromMilliseconds(300), NodeTimeout = TimeSpan.FromSeconds(2) };
        await using FanoutNodes cluster = await FanoutNodes.StartAsync(_connectionString, 1, options);
        Account alice = await cluster.AccountAsync("alice");
        Account bobAccount = await cluster.AccountAsync("bob");
        PostgresChatDatabase store = cluster.Nodes[0].Store;
        Conversation room = (await store.GetOrCreateRoomAsync("general", alice.Id, 10, DateTimeOffset.UtcNow)).Room!;
        await store.AddMemberAsync(room.Id, alice.Id, DateTimeOffset.UtcNow);
        await store.AddMemberAsync(room.Id, bobAccount.Id, DateTimeOffset.UtcNow);

        // A node that had alice online and then died (SIGKILL, power): its rows stay, its heartbeat stops.
        await cluster.ScalarAsync<object>($"""
            INSERT INTO fanout_nodes (node) VALUES ('ghost');
            INSERT INTO fanout_presence (node, account_id, username, status) VALUES ('ghost', {alice.Id}, 'alice', 'online');
            """);
        FanoutNodes.Node b = await cluster.AddNodeAsync(options);
        TestClient bob = await b.ConnectAsync(bobAccount);
        Assert.Contains(bob.Single("hello").GetProperty("presence").EnumerateArray(), p => p.Str("username") == "alice" && p.Str("status") == "online");

        await WaitForPresenceAsync(bob, "alice", "offline", options.NodeTimeout * 3);
        Assert.Equal(0L, await cluster.ScalarAsync<long>("SELECT count(*) FROM fanout_nodes WHERE node = 'ghost';"));
    }

    [Fact]
    public async Task A_node_given_up_while_it_was_only_slow_announces_its_accounts_again()
    {
        var quick = new PostgresFanoutOptions { HeartbeatInterval = TimeSpan.FromMilliseconds(300), NodeTimeout = TimeSpan.FromSeconds(2) };
        await using FanoutNodes cluster = await FanoutNodes.StartAsync(_connectionString, 1, quick);
        FanoutNodes.Node a = cluster.Nodes[0];
        FanoutNodes.Node slow = await cluster.AddNodeAsync(new PostgresFanoutOptions { HeartbeatInterval = TimeSpan.FromSeconds(5) });
        TestClient bob = await a.ConnectAsync(await cluster.AccountAsync("bob"));
        TestClient alice = await slow.ConnectAsync(await cluster.AccountAsync("alice"));
        await a.JoinAsync(bob, "general");
        await slow.JoinAsync(alice, "general");
        await WaitForPresenceAsync(bob, "alice", "online");

        // As if the slow node had missed its heartbeats: the quick one gives it up, then hears it is still there.
        int before = bob.OfType("presence").Count;
        await cluster.ScalarAsync<object>($"UPDATE fanout_nodes SET heartbeat = now() - interval '1 hour' WHERE node = '{slow.Fanout.NodeId}';");
        await WaitUntilAsync(
            () => string.Join(",", bob.OfType("presence").Skip(before).Where(p => p.Str("username") == "alice").Select(p => p.Str("status"))) == "offline,online",
            "alice offline, then online again");
        Assert.Equal(1L, await cluster.ScalarAsync<long>($"SELECT count(*) FROM fanout_presence WHERE node = '{slow.Fanout.NodeId}';"));
    }

    [Fact]
    public async Task After_its_listening_connection_comes_back_a_node_corrects_every_nodes_view_of_its_presence()
    {
        await using FanoutNodes cluster = await FanoutNodes.StartAsync(_connectionString, 2);
        (FanoutNodes.Node a, FanoutNodes.Node b) = (cluster.Nodes[0], cluster.Nodes[1]);
        (TestClient alice, TestClient bob, long room) = await AliceOnOneBobOnTheOtherAsync(cluster);
        Account carol = await cluster.AccountAsync("carol");
        await a.Store.AddMemberAsync(room, carol.Id, DateTimeOffset.UtcNow);

        // Node a once said carol was online there, and the "offline" that should have followed never went out (as when
        // PostgreSQL was unreachable as she left).
        var stale = new ChatEvent(ChatEventKind.Presence, 0, carol.Id, null) { Presence = new PresenceEntry(a.Fanout.NodeId, carol.Id, "carol", "online") };
        string payload = JsonSerializer.Serialize(new FanoutEnvelope(0, stale), FanoutJson.Default.FanoutEnvelope);
        await cluster.ScalarAsync<object>($"""
            INSERT INTO fanout_presence (node, account_id, username, status) VALUES ('{a.Fanout.NodeId}', {carol.Id}, 'carol', 'online');
            SELECT pg_notify('tern_chat', '{payload}');
            """);
        await WaitForPresenceAsync(bob, "carol", "online");

        Assert.True(await a.KillListenerAsync());
        await WaitForPresenceAsync(bob, "carol", "offline");
        Assert.Equal(0L, await cluster.ScalarAsync<long>($"SELECT count(*) FROM fanout_presence WHERE account_id = {carol.Id};"));

        // Only the real change reached bob: alice, still connected to node a, never flickered offline.
        Assert.DoesNotContain(bob.OfType("presence"), p => p.Str("username") == "alice" && p.Str("status") != "online");
        await b.SendAsync(bob, new { type = "members", conversation = room, @ref = "m" });
        JsonElement members = await bob.WaitForAsync("members");
        Assert.Equal("online", members.GetProperty("members").EnumerateArray().Single(m => m.Str("username") == "alice").Str("status"));
    }

    /// <summary>The sums of one meter's counters since it was made.</summary>
    private sealed class MeterCounters : IDisposable
    {
        private readonly System.Diagnostics.Metrics.MeterListener _listener = new();
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _sums = new();

        public MeterCounters(System.Diagnostics.Metrics.Meter meter)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter == meter)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => _sums.AddOrUpdate(instrument.Name, value, (_, sum) => sum + value));
            _listener.Start();
        }

        public long this[string name] => _sums.GetValueOrDefault(name);

        public void Dispose() => _listener.Dispose();
    }

    /// <summary>alice on the first node and bob on the second, both in #general.</summary>
    private static async Task<(TestClient Alice, TestClient Bob, long Room)> AliceOnOneBobOnTheOtherAsync(FanoutNodes cluster)
    {
        TestClient alice = await cluster.Nodes[0].ConnectAsync(await cluster.AccountAsync("alice"));
        TestClient bob = await cluster.Nodes[1].ConnectAsync(await cluster.AccountAsync("bob"));
        long room = await cluster.Nodes[0].JoinAsync(alice, "general");
        await cluster.Nodes[1].JoinAsync(bob, "general");
        return (alice, bob, room);
    }

    private static string? LastPresence(TestClient client, string username) =>
        client.OfType("presence").LastOrDefault(p => p.Str("username") == username) is { ValueKind: JsonValueKind.Object } p ? p.Str("status") : null;

    private static Task WaitForPresenceAsync(TestClient client, string username, string status, TimeSpan? timeout = null) =>
        WaitUntilAsync(() => LastPresence(client, username) == status, $"{username} {status}", timeout);

    private static async Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            if (deadline.Elapsed > (timeout ?? TimeSpan.FromSeconds(10)))
            {
                Assert.Fail($"Timed out waiting for {what}");
            }

            await Task.Delay(20);
        }
    }
}
