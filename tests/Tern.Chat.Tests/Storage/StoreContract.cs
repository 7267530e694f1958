using Tern.Chat.Storage;

namespace Tern.Chat.Tests.Storage;

/// <summary>
/// The contract of <see cref="IAccountStore"/> and <see cref="IConversationStore"/>, written once: each store derives a
/// class that opens it (SQLite in a file and in memory, PostgreSQL), and every test here runs against it.
/// </summary>
public abstract partial class StoreContract<TStore> : IAsyncLifetime
    where TStore : IAccountStore, IConversationStore, IAsyncDisposable
{
    /// <summary>A time with milliseconds, as every store keeps them.</summary>
    protected static readonly DateTimeOffset Start = DateTimeOffset.FromUnixTimeMilliseconds(1_750_000_000_123);

    private int _accounts;

    /// <summary>The store under test; a test may replace it (after disposing it) when it reopens.</summary>
    protected TStore Store { get; set; } = default!;

    public async Task InitializeAsync() => Store = await OpenStoreAsync();

    public virtual async Task DisposeAsync() => await Store.DisposeAsync();

    /// <summary>Opens a new, empty store.</summary>
    protected abstract Task<TStore> OpenStoreAsync();

    /// <summary>Creates an account named <paramref name="username"/> (its key and skeleton the lower-cased name).</summary>
    protected async Task<Account> AccountAsync(string? username = null)
    {
        username ??= $"user{Interlocked.Increment(ref _accounts)}";
        Account? account = await Store.CreateAccountAsync(new NewAccount(
            username, username.ToLowerInvariant(), "skel:" + username.ToLowerInvariant(), username + " (shown)", "$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA", Start));
        return account ?? throw new InvalidOperationException($"{username} exists already");
    }

    /// <summary>A new room, no members.</summary>
    protected async Task<Conversation> RoomAsync(string name, long creatorId)
    {
        RoomCreation creation = await Store.GetOrCreateRoomAsync(name, creatorId, maxRooms: 1000, Start);
        return creation.Room ?? throw new InvalidOperationException("room limit");
    }

    /// <summary>A new account, member of a new room.</summary>
    protected async Task<(Account Account, Conversation Room)> MemberOfNewRoomAsync(string roomName = "general")
    {
        Account account = await AccountAsync();
        Conversation room = await RoomAsync(roomName, account.Id);
        await Store.AddMemberAsync(room.Id, account.Id, Start);
        return (account, room);
    }

    /// <summary>Appends a message.</summary>
    protected async Task<StoredMessage> SayAsync(Conversation conversation, Account author, string text, string? clientRef = null, params Account[] mentioned)
    {
        AppendResult result = await Store.AppendAsync(new NewMessage(conversation.Id, author.Id, text, Start, clientRef, mentioned.Select(a => a.Id).ToArray()));
        Assert.False(result.Duplicate);
        return result.Message;
    }
}
