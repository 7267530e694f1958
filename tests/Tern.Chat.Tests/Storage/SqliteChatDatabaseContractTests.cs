using Tern.Chat.Storage;

namespace Tern.Chat.Tests.Storage;

/// <summary>The store contract on a SQLite file in a temp directory.</summary>
public sealed class SqliteFileStoreContractTests : StoreContract<SqliteChatDatabase>
{
    /// <summary>A fresh directory per test, deleted after it.</summary>
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "tern-chat-db-" + Guid.NewGuid().ToString("N"));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    protected override async Task<SqliteChatDatabase> OpenStoreAsync()
    {
        Directory.CreateDirectory(_directory);
        return await SqliteChatDatabase.OpenAsync(Path.Combine(_directory, "chat.db"));
    }
}

/// <summary>The store contract on a private in-memory SQLite database.</summary>
public sealed class SqliteInMemoryStoreContractTests : StoreContract<SqliteChatDatabase>
{
    protected override async Task<SqliteChatDatabase> OpenStoreAsync() => await SqliteChatDatabase.OpenAsync(SqliteChatDatabase.InMemoryPath);
}
