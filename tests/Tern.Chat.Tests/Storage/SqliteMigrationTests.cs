using Microsoft.Data.Sqlite;
using Tern.Chat.Accounts;
using Tern.Chat.Storage;
using Tern.Chat.Tests.Storage.NicknameEra;

namespace Tern.Chat.Tests.Storage;

/// <summary>A history written by the nickname-era <see cref="SqliteChatStore"/> opened by <see cref="SqliteChatDatabase"/>.</summary>
public sealed class SqliteMigrationTests : IAsyncLifetime
{
    private static readonly DateTimeOffset s_start = DateTimeOffset.FromUnixTimeMilliseconds(1_750_000_000_123);
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "tern-chat-migration-" + Guid.NewGuid().ToString("N"));

    private string DatabasePath => Path.Combine(_directory, "chat.db");

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory);
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_directory, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Rooms_authors_messages_ids_and_the_history_id_carry_over()
    {
        string historyId;
        var old = new List<ChatMessage>();
        await using (SqliteChatStore store = await SqliteChatStore.OpenAsync(DatabasePath))
        {
            historyId = store.HistoryId;
            (string Room, string Nick, string Text)[] messages =
            [
                ("general", "Alice", "hello everyone"),
                ("general", "bob", "hi Alice"),
                ("random", "alice", "same person, other case"),
                ("general", "x", "a one-letter nick"),
                ("general", "x-1", "a nick like the one x will get"),
                ("random", "bob", "bye"),
            ];
            for (int i = 0; i < messages.Length; i++)
            {
                old.Add(await store.AppendAsync(new NewChatMessage(messages[i].Room, messages[i].Nick, messages[i].Text, s_start.AddSeconds(i), $"c-{i % 2}")));
            }
        }

        await using SqliteChatDatabase database = await SqliteChatDatabase.OpenAsync(DatabasePath);

        Assert.Equal(historyId, database.HistoryId);
        Account alice = (await database.FindAccountAsync("alice"))!;
        Account bob = (await database.FindAccountAsync("bob"))!;
        Account x = (await database.FindAccountAsync("x-2"))!;
        Account x1 = (await database.FindAccountAsync("x-1"))!;
        Assert.Equal(new Account(alice.Id, "Alice", "alice", "Alice", null, s_start), alice);
        Assert.Equal(new Account(bob.Id, "bob", "bob", "bob", null, s_start.AddSeconds(1)), bob);
        Assert.Equal(("x-2", "x", (string?)null), (x.Username, x.DisplayName, x.PasswordHash));
        Assert.Equal("x-1", x1.DisplayName);
        Assert.Null(await database.FindAccountAsync("x"));

        Conversation general = (await database.FindRoomAsync("general"))!;
        Conversation random = (await database.FindRoomAsync("random"))!;
        Assert.Equal(new Conversation(general.Id, ConversationKind.Room, "general", null, null, s_start), general);
        IReadOnlyList<StoredMessage> inGeneral = await database.GetAfterAsync(general.Id, 0, 100);
        IReadOnlyList<StoredMessage> inRandom = await database.GetAfterAsync(random.Id, 0, 100);
        Assert.Equal(old.Where(m => m.Room == "general").Select(m => (m.Id, m.Text, m.Time)), inGeneral.Select(m => (m.Id, m.Text, m.Time)));
        Assert.Equal(old.Where(m => m.Room == "random").Select(m => (m.Id, m.Text, m.Time)), inRandom.Select(m => (m.Id, m.Text, m.Time)));
        Assert.Equal([alice.Id, bob.Id, x.Id, x1.Id], inGeneral.Select(m => m.AuthorId));
        Assert.Equal([alice.Id, bob.Id], inRandom.Select(m => m.AuthorId));
        Assert.All(inGeneral.Concat(inRandom), m => Assert.Null(m.ClientRef));

        // The migrated history is searchable and writable like a new one; the new account shares no name with the old.
        Assert.Null(await database.CreateAccountAsync(new NewAccount("ALICE", "alice", "alice", "A", "hash", s_start)));
        Account carol = (await database.CreateAccountAsync(new NewAccount("carol", "carol", "carol", "Carol", "hash", s_start)))!;
        await database.AddMemberAsync(general.Id, carol.Id, s_start);
        Assert.Equal(new ReadState(old.Where(m => m.Room == "general").Max(m => m.Id), 0, 0), await database.GetReadStateAsync(general.Id, carol.Id));
        Assert.Equal([old[0].Id], (await database.SearchAsync(carol.Id, "everyone", null, null, 10)).Select(m => m.Id));
        StoredMessage next = (await database.AppendAsync(new NewMessage(general.Id, carol.Id, "new", s_start, "c-0", []))).Message;
        Assert.True(next.Id > old.Max(m => m.Id));
    }

    [Fact]
    public async Task The_id_sequence_stays_ahead_of_rows_deleted_before_the_upgrade()
    {
        long last;
        await using (SqliteChatStore store = await SqliteChatStore.OpenAsync(DatabasePath))
        {
            await store.AppendAsync(new NewChatMessage("general", "alice", "kept", s_start, null));
            last = (await store.AppendAsync(new NewChatMessage("general", "alice", "deleted by hand", s_start, null))).Id;
        }

        await ExecuteAsync($"DELETE FROM messages WHERE id = {last};");

        await using SqliteChatDatabase database = await SqliteChatDatabase.OpenAsync(DatabasePath);
        Account alice = (await database.FindAccountAsync("alice"))!;
        Conversation general = (await database.FindRoomAsync("general"))!;
        StoredMessage next = (await database.AppendAsync(new NewMessage(general.Id, alice.Id, "new", s_start, null, []))).Message;

        Assert.True(next.Id > last);
    }

    [Fact]
    public async Task Old_authors_keep_their_look_so_a_new_name_cannot_pass_for_one_even_when_two_old_ones_look_alike()
    {
        await using (SqliteChatStore store = await SqliteChatStore.OpenAsync(DatabasePath))
        {
            await store.AppendAsync(new NewChatMessage("general", "Ivan", "first", s_start, null));
            await store.AppendAsync(new NewChatMessage("general", "Olga", "hello", s_start, null));
            await store.AppendAsync(new NewChatMessage("general", "0lga", "a look-alike from before the rules", s_start, null));
        }

        await using SqliteChatDatabase database = await SqliteChatDatabase.OpenAsync(DatabasePath);
        Account? impostor = await database.CreateAccountAsync(new NewAccount("lvan", "lvan", UsernameSkeleton.Of("lvan"), "lvan", "$argon2id$x", s_start));
        Account? stranger = await database.CreateAccountAsync(new NewAccount("Pavel", "pavel", UsernameSkeleton.Of("Pavel"), "Pavel", "$argon2id$x", s_start));

        Assert.Equal(UsernameSkeleton.Of("Ivan"), UsernameSkeleton.Of("lvan"));
        Assert.Null(impostor);
        Assert.NotNull(stranger);
        Assert.NotNull(await database.FindAccountAsync("olga"));
        Assert.NotNull(await database.FindAccountAsync("0lga"));
    }

    [Fact]
    public async Task An_empty_old_database_migrates_and_reopens()
    {
        string historyId;
        await using (SqliteChatStore store = await SqliteChatStore.OpenAsync(DatabasePath))
        {
            historyId = store.HistoryId;
        }

        await using (SqliteChatDatabase database = await SqliteChatDatabase.OpenAsync(DatabasePath))
        {
            Assert.Equal(historyId, database.HistoryId);
            Assert.Empty(await database.GetBusiestRoomsAsync(10));
        }

        await using SqliteChatDatabase reopened = await SqliteChatDatabase.OpenAsync(DatabasePath);
        Assert.Equal(historyId, reopened.HistoryId);
    }

    [Fact]
    public async Task A_failed_migration_leaves_the_old_database_as_it_was()
    {
        await using (SqliteChatStore store = await SqliteChatStore.OpenAsync(DatabasePath))
        {
            await store.AppendAsync(new NewChatMessage("general", "alice", "kept", s_start, null));
        }

        // A message whose room is NULL cannot become a conversation: the migration fails halfway.
        await ExecuteAsync("PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql = replace(sql, 'room TEXT NOT NULL', 'room TEXT') WHERE name = 'messages'; PRAGMA writable_schema = OFF;");
        await ExecuteAsync("INSERT INTO messages (room, nick, text, time) VALUES (NULL, 'bob', 'broken', 0);");

        await Assert.ThrowsAsync<SqliteException>(() => SqliteChatDatabase.OpenAsync(DatabasePath));

        await using SqliteChatStore reopened = await SqliteChatStore.OpenAsync(DatabasePath);
        Assert.Equal(["kept"], (await reopened.GetAfterAsync("general", 0, 10)).Select(m => m.Text));
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        await connection.OpenAsync();
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }
}
