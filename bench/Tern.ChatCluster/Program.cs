using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Tern.Chat.Tests.Support;

// Tern.Chat on several nodes under load, through the chat protocol: one room, one writer on each node, readers on
// every node. For each cluster size it measures
//   1. the most messages per second the room takes (each writer keeps --window says in flight),
//   2. end-to-end latency from a writer's say to a reader on another node, at that load and at half of it,
//   3. how long the clients of a node killed with SIGKILL take to catch up through nginx (reconnect, hello, history
//      after their newest id) while the writers on the other nodes go on at half load.
// Everything runs on this machine: PostgreSQL, the nodes, nginx and this client share its cores.

var settings = Settings.Parse(args);
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

// The test settings (per-address limits lifted: every client here is 127.0.0.1) with the per-account message
// limit out of the way too: a writer here sends far more than a person.
var nodeSettings = new Dictionary<string, string>(ChatCluster.TestSettings)
{
    ["TERN_CHAT_HUB__RATELIMITCOUNT"] = "100000000",
    ["TERN_CHAT_HUB__REQUESTLIMITCOUNT"] = "100000000",
    ["TERN_CHAT_HUB__ADDRESSRATELIMITCOUNT"] = "100000000",
    ["TERN_CHAT_HUB__PULLBUDGETBYTES"] = "1000000000",
    ["TERN_CHAT_HUB__ACCOUNTPULLBUDGETBYTES"] = "1000000000",
};

Console.WriteLine($"{Environment.ProcessorCount} cores; load average before: {File.ReadAllText("/proc/loadavg").Trim()}");
var postgres = new PostgresFixture();
await postgres.InitializeAsync();
var rows = new List<string>();
try
{
    foreach (int nodes in settings.NodeCounts)
    {
        Console.WriteLine($"--- {nodes} nodes ---");
        rows.Add(await RunAsync(postgres, nodes, settings, nodeSettings));
    }
}
finally
{
    await postgres.DisposeAsync();
}

Console.WriteLine();
Console.WriteLine("| nodes | clients | msg/s (one room) | deliveries/s | latency p50 / p99 at that load | at half load: msg/s, p50 / p99 | killed node's clients: caught up after (median / max) |");
Console.WriteLine("|---|---|---|---|---|---|---|");
foreach (string row in rows)
{
    Console.WriteLine(row);
}

return 0;

static async Task<string> RunAsync(PostgresFixture postgres, int nodeCount, Settings settings, IReadOnlyDictionary<string, string> nodeSettings)
{
    await using ChatCluster cluster = await ChatCluster.StartAsync(postgres, nodeCount, output: null, nginx: true, nodeSettings);
    var accounts = new List<ChatAccount>();
    var clients = new List<ResumingChatClient>();
    try
    {
        var writers = new List<(ResumingChatClient Client, ChatNode Node)>();
        var readers = new List<(ResumingChatClient Client, ChatNode Node)>();
        foreach (ChatNode node in cluster.Nodes)
        {
            for (int i = 0; i <= settings.ReadersPerNode; i++)
            {
                ChatAccount account = await ChatAccount.SignUpAsync(node.Url, $"{node.Name}-{(i == 0 ? "writer" : "reader" + i)}");
                accounts.Add(account);
                ResumingChatClient client = await ResumingChatClient.ConnectAsync(account, node.Url);
                clients.Add(client);
                (i == 0 ? writers : readers).Add((client, node));
            }
        }

        long room = 0;
        foreach (ResumingChatClient client in clients)
        {
            room = await client.JoinAsync("bench");
        }

        Console.WriteLine($"{clients.Count} clients in one room on {nodeCount} nodes; warming up");
        await WriteAsync(writers, room, TimeSpan.FromSeconds(2), settings.Window, rate: null);

        var full = await WriteAsync(writers, room, TimeSpan.FromSeconds(settings.Seconds), settings.Window, rate: null);
        double fullRate = full.Sent.Count / full.Elapsed.TotalSeconds;
        (double p50, double p99) fullLatency = await CrossNodeLatencyAsync(readers, writers, room, full.Sent);
        Console.WriteLine($"full load: {fullRate:F0} msg/s, cross-node latency p50 {fullLatency.p50:F1} ms, p99 {fullLatency.p99:F1} ms");

        double halfTarget = fullRate / 2;
        var half = await WriteAsync(writers, room, TimeSpan.FromSeconds(settings.Seconds), window: 1, rate: halfTarget);
        double halfRate = half.Sent.Count / half.Elapsed.TotalSeconds;
        (double p50, double p99) halfLatency = await CrossNodeLatencyAsync(readers, writers, room, half.Sent);
        Console.WriteLine($"half load: {halfRate:F0} msg/s, cross-node latency p50 {halfLatency.p50:F1} ms, p99 {halfLatency.p99:F1} ms");

        string catchUp = nodeCount > 1 ? await KillAsync(cluster, writers, room, settings, halfTarget, accounts, clients) : "—";
        // What the nodes complained about (the killed node's neighbours notice it; anything else is worth a look).
        foreach (string line in cluster.Describe().Split('\n').Where(l => l.Contains(" warn: ", StringComparison.Ordinal) || l.Contains(" fail: ", StringComparison.Ordinal)).Take(10))
        {
            Console.WriteLine($"  node log: {line}");
        }

        Console.WriteLine($"load average after the run: {File.ReadAllText("/proc/loadavg").Trim()}");
        int deliveriesPerMessage = clients.Count;
        return $"| {nodeCount} | {clients.Count} | {fullRate:F0} | {fullRate * deliveriesPerMessage:F0} | {fullLatency.p50:F1} / {fullLatency.p99:F1} ms | {halfRate:F0}, {halfLatency.p50:F1} / {halfLatency.p99:F1} ms | {catchUp} |";
    }
    finally
    {
        foreach (IAsyncDisposable disposable in clients.Cast<IAsyncDisposable>().Concat(accounts))
        {
            await disposable.DisposeAsync();
        }
    }
}

// Each writer keeps `window` says in flight (or, with a rate, sends its share of it one at a time on a schedule);
// returns each acknowledged message's id, writer node and send time.
static async Task<(List<(long Id, ChatNode Node, long SentAt)> Sent, TimeSpan Elapsed)> WriteAsync(
    IReadOnlyList<(ResumingChatClient Client, ChatNode Node)> writers, long room, TimeSpan duration, int window, double? rate)
{
    var sent = new List<(long Id, ChatNode Node, long SentAt)>();
    long start = Stopwatch.GetTimestamp();
    long end = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
    int counter = 0;
    await Task.WhenAll(writers.SelectMany(writer => Enumerable.Range(0, window).Select(async _ =>
    {
        double interval = rate is null ? 0 : writers.Count / rate.Value; // seconds between this writer's messages
        for (long k = 0; ; k++)
        {
            if (rate is not null)
            {
                long due = start + (long)(k * interval * Stopwatch.Frequency);
                long wait = due - Stopwatch.GetTimestamp();
                if (wait > 0)
                {
                    await Task.Delay(TimeSpan.FromSeconds((double)wait / Stopwatch.Frequency));
                }
            }

            long sentAt = Stopwatch.GetTimestamp();
            if (sentAt >= end)
            {
                return;
            }

            JsonElement answer = await writer.Client.SayAsync(room, $"m{Interlocked.Increment(ref counter)}");
            if (answer.Str("type") != "message")
            {
                throw new InvalidOperationException($"A say was refused: {answer.GetRawText()}");
            }

            lock (sent)
            {
                sent.Add((answer.Long("id"), writer.Node, sentAt));
            }
        }
    })));
    return (sent, Stopwatch.GetElapsedTime(start));
}

// Waits until every reader holds every message, then takes, for every (message, reader on another node than its
// writer), the time from the say to the reader's receipt.
static async Task<(double P50, double P99)> CrossNodeLatencyAsync(
    IReadOnlyList<(ResumingChatClient Client, ChatNode Node)> readers, IReadOnlyList<(ResumingChatClient Client, ChatNode Node)> writers,
    long room, List<(long Id, ChatNode Node, long SentAt)> sent)
{
    long[] ids = sent.Select(s => s.Id).ToArray();
    var latencies = new List<double>();
    foreach ((ResumingChatClient reader, ChatNode node) in readers.Concat(writers))
    {
        await reader.WaitUntilHoldsAsync(room, ids, TimeSpan.FromSeconds(60));
        Dictionary<long, long> arrivals = reader.LiveArrivals(room).GroupBy(a => a.Id).ToDictionary(g => g.Key, g => g.First().Timestamp);
        foreach ((long id, ChatNode writerNode, long sentAt) in sent)
        {
            if (writerNode != node && arrivals.TryGetValue(id, out long arrivedAt))
            {
                latencies.Add((arrivedAt - sentAt) * 1000.0 / Stopwatch.Frequency);
            }
        }

        if (reader.Duplicates.Count > 0 || reader.OrderViolations.Count > 0)
        {
            throw new InvalidOperationException($"{reader.Username}: {string.Join("; ", reader.Duplicates.Concat(reader.OrderViolations).Take(5))}");
        }
    }

    latencies.Sort();
    return (Percentile(latencies, 0.50), Percentile(latencies, 0.99));
}

// Clients through nginx, spread over the nodes; the first node is killed with SIGKILL while the other nodes' writers
// go on at half load. A client of the killed node has caught up when it is connected again and holds every message
// acknowledged before the kill.
static async Task<string> KillAsync(ChatCluster cluster, List<(ResumingChatClient Client, ChatNode Node)> writers, long room, Settings settings, double rate,
    List<ChatAccount> accounts, List<ResumingChatClient> clients)
{
    ChatNode victim = cluster.Nodes[0];
    var throughNginx = new List<ResumingChatClient>();
    for (int i = 0; i < settings.ProxiedClients; i++)
    {
        ChatAccount account = await ChatAccount.SignUpAsync(cluster.Url, $"proxied{i}");
        accounts.Add(account);
        ResumingChatClient client = await ResumingChatClient.ConnectAsync(account, cluster.Url);
        clients.Add(client);
        throughNginx.Add(client);
        await client.JoinAsync("bench");
    }

    ResumingChatClient[] victims = throughNginx.Where(c => cluster.NodeAt(c.Node!) == victim).ToArray();
    var survivors = writers.Where(w => w.Node != victim).ToList();


    // What these clients must have: the messages from here on (a page holds only what it has been shown).
    long joinedAt = survivors[0].Client.HeldIds(room).DefaultIfEmpty(0).Max();
    async Task<IEnumerable<long>> survivorsHistoryAsync() =>
        (await survivors[0].Client.ReadWholeHistoryAsync(room, after: joinedAt)).Select(m => m.Long("id"));
    Task<(List<(long Id, ChatNode Node, long SentAt)> Sent, TimeSpan Elapsed)> writing =
        WriteAsync(survivors, room, TimeSpan.FromSeconds(6), window: 1, rate: rate * survivors.Count / writers.Count);
    await Task.Delay(2000);
    long[] before = (await survivorsHistoryAsync()).ToArray();
    long killedAt = Stopwatch.GetTimestamp();
    await victim.KillAsync();
    var caughtUp = new Dictionary<ResumingChatClient, double>();
    while (caughtUp.Count < victims.Length && Stopwatch.GetElapsedTime(killedAt) < TimeSpan.FromSeconds(30))
    {
        foreach (ResumingChatClient client in victims.Where(c => !caughtUp.ContainsKey(c)))
        {
            if (client.Connections >= 2 && client.Missing(room, before).Count == 0)
            {
                caughtUp[client] = Stopwatch.GetElapsedTime(killedAt).TotalMilliseconds;
            }
        }

        await Task.Delay(2);
    }

    var written = await writing;
    long[] all = [.. await survivorsHistoryAsync()];
    if (!written.Sent.Select(s => s.Id).All(all.Contains))
    {
        throw new InvalidOperationException("An acknowledged message is not in the store.");
    }

    foreach (ResumingChatClient client in throughNginx)
    {
        // Everything, once: nothing acknowledged is missing after the kill.
        await client.WaitUntilHoldsAsync(room, all, TimeSpan.FromSeconds(30));
        if (client.Duplicates.Count > 0)
        {
            throw new InvalidOperationException($"{client.Username}: {string.Join("; ", client.Duplicates.Take(5))}");
        }
    }

    if (caughtUp.Count < victims.Length)
    {
        throw new InvalidOperationException($"{victims.Length - caughtUp.Count} of the killed node's clients did not catch up within 30 s.");
    }

    double[] times = caughtUp.Values.Order().ToArray();
    Console.WriteLine($"killed {victim.Name} with {victims.Length} of {throughNginx.Count} clients through nginx: caught up after {string.Join(", ", times.Select(t => $"{t:F0}"))} ms");
    return times.Length == 0 ? "(no client on the killed node)" : $"{victims.Length} clients: {Percentile([.. times], 0.5):F0} / {times[^1]:F0} ms";
}

static double Percentile(List<double> sorted, double p) =>
    sorted.Count == 0 ? double.NaN : sorted[Math.Max(0, (int)Math.Ceiling(p * sorted.Count) - 1)];

internal sealed record Settings(int[] NodeCounts, int Seconds, int ReadersPerNode, int Window, int ProxiedClients)
{
    public static Settings Parse(string[] args)
    {
        var settings = new Settings([2, 3], Seconds: 10, ReadersPerNode: 3, Window: 4, ProxiedClients: 6);
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            settings = args[i] switch
            {
                "--nodes" => settings with { NodeCounts = args[i + 1].Split(',').Select(int.Parse).ToArray() },
                "--seconds" => settings with { Seconds = int.Parse(args[i + 1], CultureInfo.InvariantCulture) },
                "--readers" => settings with { ReadersPerNode = int.Parse(args[i + 1], CultureInfo.InvariantCulture) },
                "--window" => settings with { Window = int.Parse(args[i + 1], CultureInfo.InvariantCulture) },
                "--proxied" => settings with { ProxiedClients = int.Parse(args[i + 1], CultureInfo.InvariantCulture) },
                _ => throw new ArgumentException($"Unknown option {args[i]}; options: --nodes 2,3 --seconds 10 --readers 3 --window 4 --proxied 6"),
            };
        }

        return settings;
    }
}
