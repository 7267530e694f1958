using Microsoft.Data.Sqlite;
using Tern.Chat.Storage;

namespace Tern.Chat.Tests.Storage;

/// <summary>The contract every store keeps.</summary>
public abstract class ChatStoreContract : IAsyncLifetime
{
    private static readonly DateTimeOffset s_start = DateTimeOffset.FromUnixTimeMilliseconds(1_750_000_000_123);

    protected IChatStore Store { get; set; } = null!;

    public async Task InitializeAsync() => Store = await OpenAsync();

    public virtual async Task DisposeAsync() => await Store.DisposeAsync();

    protected abstract Task<IChatStore> OpenAsync();

    [Fact]
    public async Task Append_assigns_growing_ids_across_rooms_and_keeps_every_field()
    {
        ChatMessage first = await Store.AppendAsync(new NewChatMessage("general", "alice", "hello \"world\" <b>é</b> 😀\n2nd line", s_start, "ref-1"));
        ChatMessage second = await Store.AppendAsync(new NewChatMessage("other", "bob", "x", s_start.AddSeconds(1), null));
        ChatMessage third = await Store.AppendAsync(new NewChatMessage("general", "bob", "y", s_start.AddSeconds(2), null));

        Assert.True(first.Id < second.Id && second.Id < third.Id);
        ChatMessage read = Assert.Single(await Store.GetRecentAsync("general", 1), m => m.Id == third.Id);
        Assert.Equal(third, read);
        Assert.Equal(first, (await Store.GetRecentAsync("general", 10))[0]);
        Assert.Equal("ref-1", first.ClientRef);
        Assert.Equal(s_start, first.Time);
    }

    [Fact]
    public async Task Recent_returns_the_last_n_of_the_room_oldest_first()
    {
        for (int i = 1; i <= 6; i++)
        {
            await Store.AppendAsync(new NewChatMessage(i % 2 == 0 ? "even" : "odd", "n", $"m{i}", s_start, null));
        }

        Assert.Equal(["m4", "m6"], (await Store.GetRecentAsync("even", 2)).Select(m => m.Text));
        Assert.Equal(["m1", "m3", "m5"], (await Store.GetRecentAsync("odd", 100)).Select(m => m.Text));
        Assert.Empty(await Store.GetRecentAsync("nobody-here", 10));
        Assert.Empty(await Store.GetRecentAsync("odd", 0));
    }

    [Fact]
    public async Task After_returns_the_room_messages_after_an_id_up_to_a_limit()
    {
        var ids = new List<long>();
        for (int i = 1; i <= 5; i++)
        {
            ids.Add((await Store.AppendAsync(new NewChatMessage("general", "n", $"m{i}", s_start, null))).Id);
            await Store.AppendAsync(new NewChatMessage("noise", "n", "noise", s_start, null));
        }

        Assert.Equal(["m3", "m4"], (await Store.GetAfterAsync("general", ids[1], 2)).Select(m => m.Text));
        Assert.Equal(["m1", "m2", "m3", "m4", "m5"], (await Store.GetAfterAsync("general", 0, 100)).Select(m => m.Text));
        Assert.Equal(["m5"], (await Store.GetAfterAsync("general", ids[3] + 1, 100)).Select(m => m.Text)); // an id of another room
        Assert.Empty(await Store.GetAfterAsync("general", ids[4], 100));
        Assert.Empty(await Store.GetAfterAsync("nobody-here", 0, 100));
    }

    [Fact]
    public async Task Concurrent_appends_get_distinct_ids()
    {
        ChatMessage[][] results = await Task.WhenAll(Enumerable.Range(0, 4).Select(t => Task.Run(async () =>
        {
            var mine = new List<ChatMessage>();
            for (int i = 0; i < 50; i++)
            {
                mine.Add(await Store.AppendAsync(new NewChatMessage("general", $"t{t}", $"{i}", s_start, null)));
            }

            return mine.ToArray();
        })));

        long[] ids = results.SelectMany(r => r).Select(m => m.Id).ToArray();
        Assert.Equal(200, ids.Distinct().Count());
        Assert.All(results, r => Assert.Equal(r.Select(m => m.Id).Order(), r.Select(m => m.Id)));
        Assert.Equal(ids.Order(), (await Store.GetAfterAsync("general", 0, 1000)).Select(m => m.Id));
    }

    [Fact]
    public void The_history_id_is_set() => Assert.False(string.IsNullOrWhiteSpace(Store.HistoryId));
}

public sealed class InMemoryChatStoreTests : ChatStoreContract
{
    protected override Task<IChatStore> OpenAsync() => Task.FromResult<IChatStore>(new InMemoryChatStore());
}

public sealed class SqliteChatStoreTests : ChatStoreContract
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "tern-chat-store-" + Guid.NewGuid().ToString("N"));

    private string DatabasePath => Path.Combine(_directory, "chat.db");

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    protected override Task<IChatStore> OpenAsync()
    {
        Directory.CreateDirectory(_directory);
        return OpenSqliteAsync();
    }

    private async Task<IChatStore> OpenSqliteAsync() => await SqliteChatStore.OpenAsync(DatabasePath);

    [Fact]
    public async Task History_survives_reopening_and_ids_keep_growing()
    {
        ChatMessage before = await Store.AppendAsync(new NewChatMessage("general", "alice", "kept", DateTimeOffset.UtcNow, "r"));
        string historyId = Store.HistoryId;
        await Store.DisposeAsync();

        IChatStore reopened = await OpenSqliteAsync();
        Store = reopened; // disposed by the base class
        ChatMessage after = await reopened.AppendAsync(new NewChatMessage("general", "bob", "later", DateTimeOffset.UtcNow, null));

        Assert.Equal(historyId, reopened.HistoryId);
        Assert.Equal([before, after], await reopened.GetRecentAsync("general", 10));
        Assert.True(after.Id > before.Id);
    }

    [Fact]
    public async Task Ids_are_not_reused_after_rows_are_deleted()
    {
        ChatMessage last = await Store.AppendAsync(new NewChatMessage("general", "alice", "deleted later", DateTimeOffset.UtcNow, null));
        await using (var connection = new SqliteConnection($"Data Source={DatabasePath}"))
        {
            await connection.OpenAsync();
            await using SqliteCommand delete = connection.CreateCommand();
            delete.CommandText = "DELETE FROM messages;";
            await delete.ExecuteNonQueryAsync();
        }

        ChatMessage next = await Store.AppendAsync(new NewChatMessage("general", "alice", "new", DateTimeOffset.UtcNow, null));

        Assert.True(next.Id > last.Id);
    }

    [Fact]
    public async Task The_database_uses_the_write_ahead_log()
    {
        await Store.AppendAsync(new NewChatMessage("general", "alice", "x", DateTimeOffset.UtcNow, null));
        await using var connection = new SqliteConnection($"Data Source={DatabasePath};Mode=ReadOnly");
        await connection.OpenAsync();
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode;";

        Assert.Equal("wal", (string?)await command.ExecuteScalarAsync());
        Assert.True(File.Exists(DatabasePath + "-wal"));
    }

    [Fact]
    public async Task A_new_database_gets_a_new_history_id()
    {
        string otherPath = Path.Combine(_directory, "other.db");
        await using SqliteChatStore other = await SqliteChatStore.OpenAsync(otherPath);

        Assert.NotEqual(Store.HistoryId, other.HistoryId);
    }
}
