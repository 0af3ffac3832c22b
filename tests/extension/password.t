# Account password hashes: the key that qr_event.create_account stores is recomputed
# independently with `openssl kdf` (PBKDF2-HMAC-SHA256) from the salt and iteration count
# the hash records, and equal passwords get different salts.
# Uses PGHOST/PGPORT/PGUSER; works in a database of its own, dropped at the end.
use strict;
use warnings;
use MIME::Base64 qw(decode_base64);
use Test::More;
use FindBin;
use lib "$FindBin::Bin/../lib";
use QRPg qw(psql literal scratch_database);

$ENV{PGCLIENTENCODING} = 'UTF8';
my $db = scratch_database('qr_t_password');
psql($db, 'CREATE EXTENSION qr_event');

# PBKDF2-HMAC-SHA256 of password and salt by the openssl command, as 32 raw bytes.
sub openssl_pbkdf2 {
    my ($password, $salt, $iterations) = @_;
    open my $fh, '-|', 'openssl', 'kdf', '-keylen', '32', '-kdfopt', 'digest:SHA256',
        '-kdfopt', "pass:$password", '-kdfopt', 'hexsalt:' . unpack('H*', $salt),
        '-kdfopt', "iter:$iterations", 'PBKDF2'
        or die "cannot run openssl: $!\n";
    my $out = do { local $/; <$fh> } // '';
    close $fh;
    die "openssl kdf failed\n" if $?;
    $out =~ s/[:\s]//g;
    return pack('H*', $out);
}

# Creates an account with the given iteration setting (undef: the default) and returns
# its stored hash split into (iterations, salt bytes, key bytes), after checking the format.
sub create_account {
    my ($email, $password, $iterations) = @_;
    my $set = defined $iterations ? "SET qr_event.password_iterations = $iterations; " : '';
    my $id = psql($db, $set . 'SELECT qr_event.create_account('
        . join(', ', map { literal($_) } $email, $password, 'Test Account') . ')');
    my $hash = psql($db, "SELECT password_hash FROM qr_event.accounts WHERE id = $id");
    like $hash, qr{^\$pbkdf2-sha256\$i=\d+\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}\z},
        "$email: the hash has the \$pbkdf2-sha256\$i=N\$salt\$key format";
    my (undef, undef, $iter, $salt, $key) = split /\$/, $hash;
    return ((split /=/, $iter)[1], decode_base64("$salt=="), decode_base64("$key="));
}

# a quote, a space and a non-ASCII letter: the hash is over the UTF-8 bytes as given
my $password = "correct horse ' battery \xc3\xa9t\xc3\xa9";

my ($iter, $salt, $key) = create_account('ann@example.com', $password, 1000);
is $iter, 1000, 'the hash records the iteration count in force';
is length($salt), 16, 'the salt is 16 bytes';
is length($key), 32, 'the key is 32 bytes';
is unpack('H*', openssl_pbkdf2($password, $salt, $iter)), unpack('H*', $key),
    'openssl kdf derives the same key from the password, salt and count';
isnt unpack('H*', openssl_pbkdf2("$password.", $salt, $iter)), unpack('H*', $key),
    'another password derives another key';

my ($iter2, $salt2, $key2) = create_account('bob@example.com', $password, 1000);
isnt unpack('H*', $salt2), unpack('H*', $salt), 'the same password gets another salt';
isnt unpack('H*', $key2), unpack('H*', $key), '... and so another key';
is unpack('H*', openssl_pbkdf2($password, $salt2, $iter2)), unpack('H*', $key2),
    '... which openssl kdf derives too';

my ($iter3, $salt3, $key3) = create_account('cy@example.com', $password, 1500);
is $iter3, 1500, 'a changed iteration count is used';
is unpack('H*', openssl_pbkdf2($password, $salt3, $iter3)), unpack('H*', $key3),
    '... and openssl kdf agrees';

my ($iter4, $salt4, $key4) = create_account('dee@example.com', $password, undef);
is $iter4, 210000, 'the default is 210000 iterations';
is unpack('H*', openssl_pbkdf2($password, $salt4, $iter4)), unpack('H*', $key4),
    '... and openssl kdf agrees';

is psql($db, q{SELECT count(*) FROM qr_event.accounts WHERE strpos(password_hash, 'horse') > 0}), 0,
    'no hash contains the password';

done_testing;
