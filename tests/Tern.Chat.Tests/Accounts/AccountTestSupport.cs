using Tern.Chat.Accounts;
using Tern.Chat.Storage;

namespace Tern.Chat.Tests.Accounts;

/// <summary>A real SQLite database file in a temporary folder, deleted afterwards.</summary>
internal sealed class TempDatabase : IAsyncDisposable
{
    private TempDatabase(string directory, SqliteChatDatabase database)
    {
        Directory = directory;
        Database = database;
    }

    public string Directory { get; }

    public SqliteChatDatabase Database { get; }

    public string FilePath => Database.Path;

    public static async Task<TempDatabase> CreateAsync()
    {
        string directory = Path.Combine(Path.GetTempPath(), "tern-accounts-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(directory);
        return new TempDatabase(directory, await SqliteChatDatabase.OpenAsync(Path.Combine(directory, "chat.db")));
    }

    public async ValueTask DisposeAsync()
    {
        await Database.DisposeAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>A clock the test moves by hand.</summary>
internal sealed class ManualClock : TimeProvider
{
    private DateTimeOffset _now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}

internal static class TestAccountOptions
{
    /// <summary>Cheap hashing (the cost is not what these tests are about) and generous address limits.</summary>
    public static AccountOptions Fast() => new()
    {
        PasswordHashing = new PasswordHashParameters(64, 1, 1),
        AddressAttemptLimit = 1000,
        SignUpLimit = 1000,
    };
}
