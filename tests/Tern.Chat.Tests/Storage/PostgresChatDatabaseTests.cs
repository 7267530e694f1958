using Npgsql;
using Tern.Chat.Storage;
using Tern.Chat.Tests.Support;

namespace Tern.Chat.Tests.Storage;

/// <summary>What only the PostgreSQL store has to get right: several nodes on one database.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresChatDatabaseTests(PostgresFixture postgres)
{
    private static readonly DateTimeOffset s_now = DateTimeOffset.FromUnixTimeMilliseconds(1_750_000_000_000);

    [Fact]
    public async Task Nodes_starting_at_once_on_an_empty_database_all_succeed_and_share_one_history()
    {
        string connectionString = await postgres.CreateDatabaseAsync();
        try
        {
            PostgresChatDatabase[] stores = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => PostgresChatDatabase.OpenAsync(connectionString))));
            try
            {
                Assert.Single(stores.Select(s => s.HistoryId).Distinct());
                // Every node sees what another wrote: one schema, not one per node.
                Account? account = await stores[0].CreateAccountAsync(new NewAccount("ann", "ann", "ann", "Ann", "hash", s_now));
                Assert.Equal(account, await stores[3].FindAccountAsync("ann"));
                // Each step applied once, by whichever node came first.
                Assert.Equal((long)PostgresSchema.CurrentVersion, await ScalarAsync(connectionString, "SELECT COUNT(*) FROM schema_version;"));
            }
            finally
            {
                foreach (PostgresChatDatabase store in stores)
                {
                    await store.DisposeAsync();
                }
            }

            // A restart finds the schema and keeps the history id.
            await using PostgresChatDatabase reopened = await PostgresChatDatabase.OpenAsync(connectionString);
            Assert.Equal(stores[0].HistoryId, reopened.HistoryId);
        }
        finally
        {
            await postgres.DropDatabaseAsync(connectionString);
        }
    }

    [Fact]
    public async Task A_database_from_a_newer_version_is_refused()
    {
        string connectionString = await postgres.CreateDatabaseAsync();
        try
        {
            await (await PostgresChatDatabase.OpenAsync(connectionString)).DisposeAsync();
            await ScalarAsync(connectionString, "INSERT INTO schema_version (version) VALUES (99) RETURNING version;");

            var e = await Assert.ThrowsAsync<InvalidOperationException>(() => PostgresChatDatabase.OpenAsync(connectionString));
            Assert.Contains("newer", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            await postgres.DropDatabaseAsync(connectionString);
        }
    }

    [Fact]
    public async Task Two_nodes_appending_to_one_room_get_one_order_and_the_room_limit_holds()
    {
        string connectionString = await postgres.CreateDatabaseAsync();
        try
        {
            await using PostgresChatDatabase first = await PostgresChatDatabase.OpenAsync(connectionString);
            await using PostgresChatDatabase second = await PostgresChatDatabase.OpenAsync(connectionString);
            Account alice = (await first.CreateAccountAsync(new NewAccount("alice", "alice", "alice", "Alice", "hash", s_now)))!;
            Assert.Null(await second.CreateAccountAsync(new NewAccount("Alice", "alice", "alice2", "Alice", "hash", s_now)));

            // Racing room creations on both nodes under a limit of 3: exactly 3 rooms.
            RoomCreation[] creations = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
                (i % 2 == 0 ? first : second).GetOrCreateRoomAsync($"room{i}", alice.Id, maxRooms: 3, s_now).AsTask()));
            Assert.Equal(3, creations.Count(c => c.Created));
            Conversation room = creations.First(c => c.Created).Room!;

            // Each node appends in its own order; a reader polling "after the last id I saw" misses nothing.
            var seen = new List<long>();
            using var done = new CancellationTokenSource();
            Task reader = Task.Run(async () =>
            {
                long last = 0;
                while (true)
                {
                    bool finished = done.IsCancellationRequested;
                    foreach (StoredMessage message in await second.GetAfterAsync(room.Id, last, 1000))
                    {
                        seen.Add(message.Id);
                        last = message.Id;
                    }

                    if (finished)
                    {
                        return;
                    }
                }
            });
            long[][] written = await Task.WhenAll(new[] { first, second }.SelectMany(node => new[] { node, node }).Select((node, writer) => Task.Run(async () =>
            {
                var ids = new List<long>();
                for (int i = 0; i < 40; i++)
                {
                    ids.Add((await node.AppendAsync(new NewMessage(room.Id, alice.Id, $"{writer}:{i}", s_now, $"{writer}:{i}", []))).Message.Id);
                }

                return ids.ToArray();
            })));
            await done.CancelAsync();
            await reader.WaitAsync(TimeSpan.FromSeconds(30));

            long[] all = written.SelectMany(w => w).Order().ToArray();
            Assert.Equal(160, all.Distinct().Count());
            Assert.Equal(all, seen);
            Assert.Equal(all, (await first.GetAfterAsync(room.Id, 0, 1000)).Select(m => m.Id));
        }
        finally
        {
            await postgres.DropDatabaseAsync(connectionString);
        }
    }

    private static async Task<long> ScalarAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
