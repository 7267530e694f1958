using Tern.Chat.Storage;

namespace Tern.Chat.Tests.Storage;

/// <summary>The store contract on a SQLite file in a temp directory.</summary>
public class SqliteFileStoreContractTests : StoreContract<SqliteChatDatabase>
{
    /// <summary>A fresh directory per test, deleted after it.</summary>
    protected string Directory { get; } = Path.Combine(Path.GetTempPath(), "tern-chat-db-" + Guid.NewGuid().ToString("N"));

    protected string DatabasePath => Path.Combine(Directory, "chat.db");

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        System.IO.Directory.Delete(Directory, recursive: true);
    }

    protected override async Task<SqliteChatDatabase> OpenStoreAsync()
    {
        System.IO.Directory.CreateDirectory(Directory);
        return await SqliteChatDatabase.OpenAsync(DatabasePath);
    }
}

/// <summary>The store contract on a private in-memory SQLite database.</summary>
public sealed class SqliteInMemoryStoreContractTests : StoreContract<SqliteChatDatabase>
{
    protected override async Task<SqliteChatDatabase> OpenStoreAsync() => await SqliteChatDatabase.OpenAsync(SqliteChatDatabase.InMemoryPath);
}
