using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using Tern.Chat.Tests.Support;
using Xunit.Abstractions;

namespace Tern.Chat.Tests.Cluster;

/// <summary>
/// Tern.Chat on several nodes as docs/scale-out.md runs it: each node a process of its own on one PostgreSQL
/// database, nginx in front (scripts/nginx.conf.template), clients that reconnect and resume as the page does.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ClusterTests(PostgresFixture postgres, ITestOutputHelper output)
{
    [Fact]
    public async Task Nginx_spreads_sockets_over_the_nodes_which_share_accounts_and_history()
    {
        await using ChatCluster cluster = await ChatCluster.StartAsync(postgres, nodes: 3, output);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        Assert.Contains("<title>Tern.Chat</title>", await http.GetStringAsync(cluster.Url), StringComparison.Ordinal);
        await using ChatAccount alice = await ChatAccount.SignUpAsync(cluster.Url, "alice");

        // Three sockets of one account through nginx: one on each node (least_conn), all signed in with the cookie
        // nginx's first node set.
        var sockets = new List<ResumingChatClient>();
        try
        {
            for (int i = 0; i < 3; i++)
            {
                sockets.Add(await ResumingChatClient.ConnectAsync(alice, cluster.Url));
            }

            Assert.Equal(cluster.Nodes.Select(n => n.Address).Order(), sockets.Select(s => cluster.NodeAt(s.Node!).Address).Order());
            long room = await sockets[0].JoinAsync("general");
            var said = new List<long>();
            foreach (ResumingChatClient socket in sockets)
            {
                socket.Follow(room);
                JsonElement message = await socket.SayAsync(room, $"from {socket.Node}");
                Assert.Equal("message", message.Str("type"));
                said.Add(message.Long("id"));
            }

            Assert.Equal(said.Order(), said);

            // The account made through nginx signs in on a node directly, and that node has the others' history.
            await using ChatAccount again = await ChatAccount.SignInAsync(cluster.Nodes[2].Url, "alice");
            await using ResumingChatClient direct = await ResumingChatClient.ConnectAsync(again, cluster.Nodes[2].Url);
            IReadOnlyList<JsonElement> history = await direct.ReadWholeHistoryAsync(room);
            Assert.Equal(said, history.Select(m => m.Long("id")));
            Assert.Equal(sockets.Select(s => $"from {s.Node}"), history.Select(m => m.Str("text")));
        }
        finally
        {
            foreach (ResumingChatClient socket in sockets)
            {
                await socket.DisposeAsync();
            }
        }

        // The origin check still works behind nginx (it passes the Host with its port): another site is refused.
        using var foreign = new ClientWebSocket();
        foreign.Options.Cookies = alice.Cookies;
        foreign.Options.SetRequestHeader("Origin", "http://evil.example");
        foreign.Options.CollectHttpResponseDetails = true;
        await Assert.ThrowsAnyAsync<WebSocketException>(() => foreign.ConnectAsync(ChatAccount.ChatSocketUrl(cluster.Url), CancellationToken.None));
        Assert.Equal(HttpStatusCode.Forbidden, foreign.HttpStatusCode);
    }

    [Fact]
    public async Task Clients_on_every_node_directly_and_through_nginx_see_everyones_messages_live_in_one_order()
    {
        await using ChatCluster cluster = await ChatCluster.StartAsync(postgres, nodes: 3, output);
        var accounts = new List<ChatAccount>();
        var clients = new List<ResumingChatClient>();
        try
        {
            // A writer directly on each node, and three readers through nginx (one per node, least_conn).
            for (int n = 0; n < 6; n++)
            {
                accounts.Add(await ChatAccount.SignUpAsync(cluster.Url, $"person{n}"));
                clients.Add(await ResumingChatClient.ConnectAsync(accounts[n], n < 3 ? cluster.Nodes[n].Url : cluster.Url));
            }

            Assert.Equal(3, clients.Skip(3).Select(c => cluster.NodeAt(c.Node!)).Distinct().Count());
            long room = await clients[0].JoinAsync("general");
            foreach (ResumingChatClient client in clients.Skip(1))
            {
                Assert.Equal(room, await client.JoinAsync("general"));
            }

            // The three writers at once, each as fast as its answers come back.
            long[][] said = await Task.WhenAll(clients.Take(3).Select(async writer =>
            {
                var ids = new List<long>();
                for (int i = 0; i < 25; i++)
                {
                    JsonElement answer = await writer.SayAsync(room, $"{writer.Username} {i}");
                    Assert.True(answer.Str("type") == "message", answer.GetRawText());
                    ids.Add(answer.Long("id"));
                }

                return ids.ToArray();
            }));

            long[] stored = (await clients[0].ReadWholeHistoryAsync(room)).Select(m => m.Long("id")).ToArray();
            Assert.Equal(said.SelectMany(ids => ids).Order(), stored);
            foreach (ResumingChatClient client in clients)
            {
                await client.WaitUntilHoldsAsync(room, stored);
                // All of it live (no reconnect), and in the store's order on every node.
                Assert.Equal(1, client.Connections);
                Assert.Equal(stored, client.LiveIds(room));
                Assert.Empty(client.Duplicates);
            }
        }
        finally
        {
            foreach (IAsyncDisposable disposable in clients.Cast<IAsyncDisposable>().Concat(accounts))
            {
                await disposable.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task The_clients_of_a_killed_node_reconnect_through_nginx_and_get_everything_after_their_last_id_once()
    {
        // Nodes give a silent node up after 3 s instead of 15, so that its people's going offline is seen quickly.
        var settings = new Dictionary<string, string>(ChatCluster.TestSettings)
        {
            ["TERN_CHAT_CLUSTER__HEARTBEATINTERVAL"] = "00:00:01",
            ["TERN_CHAT_CLUSTER__NODETIMEOUT"] = "00:00:03",
        };
        await using ChatCluster cluster = await ChatCluster.StartAsync(postgres, nodes: 2, output, settings: settings);
        await using ChatAccount alice = await ChatAccount.SignUpAsync(cluster.Url, "alice");
        await using ChatAccount bob = await ChatAccount.SignUpAsync(cluster.Url, "bob");
        await using ChatAccount dave = await ChatAccount.SignUpAsync(cluster.Url, "dave");
        await using ChatAccount carol = await ChatAccount.SignUpAsync(cluster.Url, "carol");
        await using ResumingChatClient aliceClient = await ResumingChatClient.ConnectAsync(alice, cluster.Url);
        ChatNode doomed = cluster.NodeAt(aliceClient.Node!);
        ChatNode survivor = cluster.Nodes.Single(n => n != doomed);
        // Bob writes on the node that lives, Dave through nginx (wherever it sends him), both all along.
        await using ResumingChatClient bobClient = await ResumingChatClient.ConnectAsync(bob, survivor.Url);
        await using ResumingChatClient daveClient = await ResumingChatClient.ConnectAsync(dave, cluster.Url);
        long room = await aliceClient.JoinAsync("general");
        Assert.Equal(room, await bobClient.JoinAsync("general"));
        Assert.Equal(room, await daveClient.JoinAsync("general"));
        // Carol is on the doomed node only, and does not come back.
        WebSocketTestClient carolSocket = await carol.ConnectAsync(doomed.Url);
        await carolSocket.JoinRoomAsync("general");
        JsonElement carolJoined = await bobClient.WaitForEventAsync("member_joined", m => m.GetProperty("member").Str("username") == "carol", TimeSpan.FromSeconds(10));
        Assert.Equal("online", carolJoined.GetProperty("member").Str("status"));
        // Alice holds a message before her node dies: she resumes after it.
        JsonElement first = await aliceClient.SayAsync(room, "before");
        await aliceClient.WaitUntilHoldsAsync(room, [first.Long("id")]);

        var acknowledged = new System.Collections.Concurrent.ConcurrentBag<long>();
        int bobSent = 0;
        async Task PostAsync(ResumingChatClient client, int count, Func<int, Task>? after = null)
        {
            for (int i = 0; i < count; i++)
            {
                JsonElement answer = await client.SayAsync(room, $"{client.Username} {i}");
                Assert.True(answer.Str("type") == "message", $"{client.Username} {i} was refused: {answer.GetRawText()}");
                acknowledged.Add(answer.Long("id"));
                if (after is not null)
                {
                    await after(i);
                }

                await Task.Delay(15);
            }
        }

        Task killing = Task.CompletedTask;
        var sinceKill = new System.Diagnostics.Stopwatch();
        Task posting = Task.WhenAll(
            PostAsync(bobClient, 40, i =>
            {
                if (Interlocked.Increment(ref bobSent) == 10)
                {
                    sinceKill.Start();
                    killing = doomed.KillAsync();
                }

                return Task.CompletedTask;
            }),
            PostAsync(daveClient, 40));
        await posting;
        await killing;

        long[] expected = [first.Long("id"), .. acknowledged.Order()];
        await aliceClient.WaitUntilHoldsAsync(room, expected);
        IReadOnlyList<long> stored = (await bobClient.ReadWholeHistoryAsync(room)).Select(m => m.Long("id")).ToArray();
        Assert.Equal(expected, stored);
        Assert.Equal(stored, aliceClient.HeldIds(room));
        Assert.Empty(aliceClient.Duplicates);
        Assert.Empty(aliceClient.OrderViolations);
        Assert.True(aliceClient.Connections >= 2, "Alice's node was killed, yet she never reconnected.");
        Assert.Equal(survivor.Address, cluster.NodeAt(aliceClient.Node!).Address);
        // The dead node's people go offline on the other node within its node timeout (plus a heartbeat's slack).
        await bobClient.WaitForEventAsync("presence", p => p.Str("username") == "carol" && p.Str("status") == "offline", TimeSpan.FromSeconds(10));
        output.WriteLine($"Carol went offline for Bob {sinceKill.ElapsedMilliseconds} ms after the kill (node timeout 3 s).");
        output.WriteLine($"Alice was away {string.Join(", ", aliceClient.Outages.Select(o => $"{o.TotalMilliseconds:F0} ms"))}; {aliceClient.Overlaps} message(s) came both live and in a resume page.");
    }

    [Fact]
    public async Task A_rolling_restart_of_every_node_behind_nginx_loses_and_repeats_nothing()
    {
        await using ChatCluster cluster = await ChatCluster.StartAsync(postgres, nodes: 2, output);
        await using ChatAccount alice = await ChatAccount.SignUpAsync(cluster.Url, "alice");
        await using ChatAccount bob = await ChatAccount.SignUpAsync(cluster.Url, "bob");
        await using ResumingChatClient aliceClient = await ResumingChatClient.ConnectAsync(alice, cluster.Url);
        await using ResumingChatClient bobClient = await ResumingChatClient.ConnectAsync(bob, cluster.Url);
        long room = await aliceClient.JoinAsync("general");
        Assert.Equal(room, await bobClient.JoinAsync("general"));

        // Both write all along while each node in turn is stopped as a deployment stops it (SIGTERM: its sockets close
        // with 1001) and started again on its port.
        using var restarting = new CancellationTokenSource();
        var acknowledged = new System.Collections.Concurrent.ConcurrentBag<long>();
        async Task WriteAsync(ResumingChatClient writer)
        {
            for (int i = 0; !restarting.IsCancellationRequested || i < 5; i++)
            {
                JsonElement answer = await writer.SayAsync(room, $"{writer.Username} {i}");
                Assert.True(answer.Str("type") == "message", $"{writer.Username} {i} was refused: {answer.GetRawText()}");
                acknowledged.Add(answer.Long("id"));
                await Task.Delay(20);
            }
        }

        Task writing = Task.WhenAll(WriteAsync(aliceClient), WriteAsync(bobClient));
        foreach (ChatNode node in cluster.Nodes)
        {
            await Task.Delay(300);
            await node.StopAsync();
            await node.StartAgainAsync();
        }

        await restarting.CancelAsync();
        await writing.WaitAsync(TimeSpan.FromSeconds(60));

        long[] stored = (await aliceClient.ReadWholeHistoryAsync(room)).Select(m => m.Long("id")).ToArray();
        Assert.Equal(acknowledged.Order(), stored);
        foreach (ResumingChatClient client in (ResumingChatClient[])[aliceClient, bobClient])
        {
            await client.WaitUntilHoldsAsync(room, stored);
            Assert.Empty(client.Duplicates);
            Assert.Empty(client.OrderViolations);
            Assert.True(client.Connections >= 2, $"{client.Username}'s node was restarted, yet {client.Username} never reconnected.");
            output.WriteLine($"{client.Username}: {client.Connections} connections, {client.StoredAnswers} re-sent message(s) answered with the stored copy, {client.Overlaps} overlap(s)");
        }
    }

    [Fact]
    public async Task Restarting_PostgreSQL_mid_conversation_loses_nothing_silently()
    {
        await using ChatCluster cluster = await ChatCluster.StartAsync(postgres, nodes: 2, output);
        await using ChatAccount alice = await ChatAccount.SignUpAsync(cluster.Url, "alice");
        await using ChatAccount bob = await ChatAccount.SignUpAsync(cluster.Url, "bob");
        await using ChatAccount carol = await ChatAccount.SignUpAsync(cluster.Url, "carol");
        await using ResumingChatClient aliceClient = await ResumingChatClient.ConnectAsync(alice, cluster.Nodes[0].Url);
        await using ResumingChatClient bobClient = await ResumingChatClient.ConnectAsync(bob, cluster.Nodes[1].Url);
        await using ResumingChatClient carolClient = await ResumingChatClient.ConnectAsync(carol, cluster.Url);
        ResumingChatClient[] everyone = [aliceClient, bobClient, carolClient];
        long room = await aliceClient.JoinAsync("general");
        Assert.Equal(room, await bobClient.JoinAsync("general"));
        Assert.Equal(room, await carolClient.JoinAsync("general"));

        var acknowledged = new System.Collections.Concurrent.ConcurrentBag<long>();
        var refused = new System.Collections.Concurrent.ConcurrentBag<string>();
        int restarted = 0;
        int acknowledgedAfterRestart = 0;
        async Task WriteAsync(ResumingChatClient writer)
        {
            // Until the database has been back long enough for a few messages of each writer to get through.
            for (int i = 0; Volatile.Read(ref restarted) == 0 || Volatile.Read(ref acknowledgedAfterRestart) < 10; i++)
            {
                Assert.True(i < 400, $"{writer.Username} kept being refused after PostgreSQL came back: {string.Join(" ", writer.Errors.TakeLast(3).Select(e => e.GetRawText()))}");
                bool afterRestart = Volatile.Read(ref restarted) == 1;
                // Every message gets an answer: stored, or refused with an error (never silence).
                JsonElement answer = await writer.SayAsync(room, $"{writer.Username} {i}", TimeSpan.FromSeconds(30));
                if (answer.Str("type") == "message")
                {
                    acknowledged.Add(answer.Long("id"));
                    if (afterRestart)
                    {
                        Interlocked.Increment(ref acknowledgedAfterRestart);
                    }
                }
                else
                {
                    Assert.Equal("error", answer.Str("type"));
                    refused.Add($"{writer.Username} {i}: {answer.Str("code")}");
                    await Task.Delay(100);
                }

                await Task.Delay(20);
            }
        }

        Task writing = Task.WhenAll(WriteAsync(aliceClient), WriteAsync(bobClient));
        bool stopped = false;
        try
        {
            await Task.Delay(500);
            await postgres.StopServerAsync();
            stopped = true;
            await Task.Delay(1500);
            await postgres.StartServerAsync();
            stopped = false;
            Volatile.Write(ref restarted, 1);
            await writing.WaitAsync(TimeSpan.FromSeconds(60));
        }
        finally
        {
            if (stopped)
            {
                await postgres.StartServerAsync();
            }
        }

        long[] stored = (await carolClient.ReadWholeHistoryAsync(room)).Select(m => m.Long("id")).ToArray();
        output.WriteLine($"{acknowledged.Count} messages stored, {refused.Count} refused during the restart: {string.Join(", ", refused)}");
        // Exactly the acknowledged messages are stored: nothing refused was stored after all, nothing acknowledged is missing.
        Assert.Equal(acknowledged.Order(), stored);
        foreach (ResumingChatClient client in everyone)
        {
            await client.WaitUntilHoldsAsync(room, stored, TimeSpan.FromSeconds(30));
            Assert.Empty(client.Duplicates);
            Assert.Empty(client.OrderViolations);
        }
    }
}
