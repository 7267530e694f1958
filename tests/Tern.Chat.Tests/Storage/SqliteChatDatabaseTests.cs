using Microsoft.Data.Sqlite;
using Tern.Chat.Storage;

namespace Tern.Chat.Tests.Storage;

/// <summary>What only the SQLite store does: the file, its schema, its index, reopening.</summary>
public sealed class SqliteChatDatabaseTests : IAsyncLifetime
{
    private static readonly DateTimeOffset s_start = DateTimeOffset.FromUnixTimeMilliseconds(1_750_000_000_123);
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "tern-chat-db-" + Guid.NewGuid().ToString("N"));
    private SqliteChatDatabase _database = null!;

    private string DatabasePath => Path.Combine(_directory, "chat.db");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory);
        _database = await SqliteChatDatabase.OpenAsync(DatabasePath);
    }

    public async Task DisposeAsync()
    {
        await _database.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Everything_survives_reopening_with_the_same_history_id_and_ids_keep_growing()
    {
        (Account alice, Conversation room) = await AliceInARoomAsync(_database);
        StoredMessage before = (await _database.AppendAsync(new NewMessage(room.Id, alice.Id, "kept", s_start, "r", [alice.Id]))).Message;
        string historyId = _database.HistoryId;
        await _database.DisposeAsync();

        _database = await SqliteChatDatabase.OpenAsync(DatabasePath);
        StoredMessage after = (await _database.AppendAsync(new NewMessage(room.Id, alice.Id, "later", s_start, null, []))).Message;

        Assert.Equal(historyId, _database.HistoryId);
        Assert.Equal(32, historyId.Length);
        Assert.Equal(alice, await _database.FindAccountAsync("alice"));
        Assert.Equal(room, await _database.FindRoomAsync("general"));
        Assert.Equal(["kept", "later"], (await _database.GetAfterAsync(room.Id, 0, 10)).Select(m => m.Text));
        Assert.Equal([alice.Id], (await _database.GetMessageAsync(before.Id))!.MentionedAccountIds);
        Assert.True(after.Id > before.Id);
        Assert.True((await _database.AppendAsync(new NewMessage(room.Id, alice.Id, "resent", s_start, "r", []))).Duplicate);
    }

    [Fact]
    public async Task A_new_database_gets_a_new_history_id_and_memory_ones_differ_too()
    {
        await using SqliteChatDatabase other = await SqliteChatDatabase.OpenAsync(Path.Combine(_directory, "other.db"));
        await using SqliteChatDatabase memory1 = await SqliteChatDatabase.OpenAsync(SqliteChatDatabase.InMemoryPath);
        await using SqliteChatDatabase memory2 = await SqliteChatDatabase.OpenAsync(SqliteChatDatabase.InMemoryPath);

        Assert.Equal(4, new[] { _database.HistoryId, other.HistoryId, memory1.HistoryId, memory2.HistoryId }.Distinct().Count());
    }

    [Fact]
    public async Task In_memory_databases_are_private()
    {
        await using SqliteChatDatabase memory1 = await SqliteChatDatabase.OpenAsync(SqliteChatDatabase.InMemoryPath);
        await using SqliteChatDatabase memory2 = await SqliteChatDatabase.OpenAsync(SqliteChatDatabase.InMemoryPath);
        await AliceInARoomAsync(memory1);

        Assert.NotNull(await memory1.FindAccountAsync("alice"));
        Assert.Null(await memory2.FindAccountAsync("alice"));
        Assert.Equal(SqliteChatDatabase.InMemoryPath, memory1.Path);
    }

    [Fact]
    public async Task The_file_is_in_wal_mode_at_the_current_schema_version_with_foreign_keys_enforced()
    {
        (Account alice, _) = await AliceInARoomAsync(_database);

        Assert.Equal("wal", await QueryAsync<string>("PRAGMA journal_mode;"));
        Assert.Equal(2L, await QueryAsync<long>("PRAGMA user_version;"));
        Assert.True(File.Exists(DatabasePath + "-wal"));
        Assert.Equal(DatabasePath, _database.Path);
        await Assert.ThrowsAsync<SqliteException>(async () => await _database.AppendAsync(new NewMessage(424242, alice.Id, "nowhere", s_start, null, [])));
    }

    [Fact]
    public async Task A_deleted_messages_text_leaves_the_table_and_the_search_index()
    {
        (Account alice, Conversation room) = await AliceInARoomAsync(_database);
        StoredMessage message = (await _database.AppendAsync(new NewMessage(room.Id, alice.Id, "zanzibar treasure", s_start, null, [alice.Id]))).Message;
        await _database.AppendAsync(new NewMessage(room.Id, alice.Id, "other treasure", s_start, null, []));
        Assert.Equal(1L, await QueryAsync<long>("SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH 'zanzibar';"));
        Assert.Equal(1L, await QueryAsync<long>("SELECT COUNT(*) FROM mentions;"));

        await _database.DeleteAsync(message.Id, alice.Id, s_start);

        Assert.Equal(0L, await QueryAsync<long>("SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH 'zanzibar';"));
        Assert.Equal(0L, await QueryAsync<long>("SELECT COUNT(*) FROM messages WHERE text LIKE '%zanzibar%';"));
        Assert.Equal(0L, await QueryAsync<long>("SELECT COUNT(*) FROM mentions;"));
        // The index's own vocabulary: no row mentions the word any more, while the other message's words stay.
        Assert.Equal(0L, await QueryAsync<long>("SELECT COUNT(*) FROM vocabulary WHERE term = 'zanzibar';", withVocabulary: true));
        Assert.Equal(1L, await QueryAsync<long>("SELECT doc FROM vocabulary WHERE term = 'treasure';", withVocabulary: true));
        Assert.Equal("ok", await QueryAsync<string>("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1); SELECT 'ok';"));
    }

    [Fact]
    public async Task Ids_are_not_reused_after_rows_are_deleted_by_hand()
    {
        (Account alice, Conversation room) = await AliceInARoomAsync(_database);
        StoredMessage last = (await _database.AppendAsync(new NewMessage(room.Id, alice.Id, "deleted by hand", s_start, null, []))).Message;
        await QueryAsync<long>("DELETE FROM messages; SELECT 0;");

        StoredMessage next = (await _database.AppendAsync(new NewMessage(room.Id, alice.Id, "new", s_start, null, []))).Message;

        Assert.True(next.Id > last.Id);
    }

    [Fact]
    public async Task Reads_run_alongside_a_stream_of_writes_and_see_whole_ones()
    {
        (Account alice, Conversation room) = await AliceInARoomAsync(_database);
        using var stop = new CancellationTokenSource();
        Task writer = Task.Run(async () =>
        {
            for (int i = 0; i < 200; i++)
            {
                await _database.AppendAsync(new NewMessage(room.Id, alice.Id, $"word{i} common", s_start, null, [alice.Id]));
            }
        });
        Task[] readers = Enumerable.Range(0, 3).Select(_ => Task.Run(async () =>
        {
            while (!writer.IsCompleted)
            {
                IReadOnlyList<StoredMessage> page = await _database.GetBeforeAsync(room.Id, null, 50);
                Assert.All(page, m => Assert.Equal([alice.Id], m.MentionedAccountIds)); // never a message without its mentions: an append is one transaction
                await _database.SearchAsync(alice.Id, "common", null, null, 10);
                await _database.GetConversationsAsync(alice.Id);
            }
        })).ToArray();

        await writer;
        await Task.WhenAll(readers);

        Assert.Equal(200, (await _database.GetAfterAsync(room.Id, 0, 1000)).Count);
        Assert.Equal(new ReadState(0, 0, 0), await _database.GetReadStateAsync(room.Id, alice.Id)); // her own messages
    }

    [Fact]
    public async Task A_database_from_a_newer_version_is_refused()
    {
        await _database.DisposeAsync();
        await using (var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False"))
        {
            await connection.OpenAsync();
            await using SqliteCommand command = connection.CreateCommand();
            command.CommandText = "PRAGMA user_version = 99;";
            await command.ExecuteNonQueryAsync();
        }

        InvalidOperationException error = await Assert.ThrowsAsync<InvalidOperationException>(() => SqliteChatDatabase.OpenAsync(DatabasePath));
        Assert.Contains("99", error.Message, StringComparison.Ordinal);
        _database = await SqliteChatDatabase.OpenAsync(SqliteChatDatabase.InMemoryPath); // for DisposeAsync
    }

    [Fact]
    public async Task Calls_after_disposal_throw()
    {
        await _database.DisposeAsync();
        await _database.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await _database.FindAccountAsync("alice"));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await _database.SetDisplayNameAsync(1, "x"));
    }

    [Theory]
    [InlineData("hello", "\"hello\"*")]
    [InlineData(" a  b ", "\"a\" \"b\"*")]
    [InlineData("say \"hi\"", "\"say\" \"\"\"hi\"\"\"*")]
    [InlineData("* - \" :", null)]
    [InlineData("quick\0fox\u0001", "\"quick\" \"fox\"*")]
    [InlineData("", null)]
    public void The_match_expression_quotes_every_word(string query, string? expected) =>
        Assert.Equal(expected, SqliteChatDatabase.ToMatchExpression(query));

    internal static async Task<(Account Alice, Conversation Room)> AliceInARoomAsync(SqliteChatDatabase database)
    {
        Account alice = (await database.CreateAccountAsync(new NewAccount("alice", "alice", "alice", "Alice", "hash", s_start)))!;
        Conversation room = (await database.GetOrCreateRoomAsync("general", alice.Id, 10, s_start)).Room!;
        await database.AddMemberAsync(room.Id, alice.Id, s_start);
        return (alice, room);
    }

    /// <summary>Runs SQL on a connection of its own, as anything else reading the file would.</summary>
    private async Task<T> QueryAsync<T>(string sql, bool withVocabulary = false)
    {
        await using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        await connection.OpenAsync();
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = (withVocabulary ? "CREATE VIRTUAL TABLE temp.vocabulary USING fts5vocab(main, messages_fts, 'row');" : "") + sql;
        return (T)(await command.ExecuteScalarAsync())!;
    }
}
