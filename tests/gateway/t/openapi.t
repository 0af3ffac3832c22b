# GET /api/openapi.json: an OpenAPI 3 document generated from the route table, checked
# against the contract of DESIGN §5 in both directions (every contract route is
# documented, nothing else is), against the gateway (every documented operation is
# routed, not 404 "no such resource" or 405), and against the database (every
# x-sql-function exists and qr_gateway_role may execute it).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../../lib";
use Test::More;
use QRPg qw(psql literal);
use QRTest qw(start_gateway);

# DESIGN §5, but /metrics (Prometheus text, not part of the API document)
my @contract = (
    'GET /healthz', 'GET /readyz', 'GET /api/openapi.json',
    'POST /api/auth/login', 'POST /api/auth/guest',
    'GET /api/events', 'POST /api/events', 'GET /api/events/{id}',
    'GET /api/events/{id}/guests', 'POST /api/events/{id}/guests',
    'GET /api/events/{id}/families', 'POST /api/events/{id}/families',
    'GET /api/events/{id}/games', 'POST /api/events/{id}/games',
    'GET /api/events/{id}/stats', 'POST /api/events/{id}/guests/{guest_id}/qr',
    'POST /api/qr/{token}/scan', 'POST /api/qr/{token}/revoke', 'GET /api/qr/{token}/history',
    'GET /api/games/{id}/leaderboard', 'GET /api/games/{id}/leaderboard/{participation_id}',
    'POST /api/games/{id}/play', 'GET /api/games/{id}/leaderboard/stream', 'GET /live/games/{id}',
);
my %public = map { $_ => 1 } ('GET /healthz', 'GET /readyz', 'GET /api/openapi.json',
    'POST /api/auth/login', 'POST /api/auth/guest', 'GET /api/events/{id}/games',
    'GET /api/games/{id}/leaderboard', 'GET /api/games/{id}/leaderboard/{participation_id}',
    'GET /api/games/{id}/leaderboard/stream', 'GET /live/games/{id}');

my $gw = start_gateway();
my $res = $gw->get('/api/openapi.json');
is $res->{status}, 200, 'the document is served';
like $res->{headers}{'content-type'}, qr{^application/json}, 'as JSON';
my $doc = $res->{json};
ok $doc && !exists $doc->{success}, 'as the document itself, without an envelope';
like $doc->{openapi}, qr/^3\./, 'OpenAPI 3';

my %documented;
for my $path (keys %{ $doc->{paths} }) {
    for my $method (keys %{ $doc->{paths}{$path} }) {
        $documented{uc($method) . " $path"} = $doc->{paths}{$path}{$method};
    }
}
is_deeply [sort keys %documented], [sort @contract], 'documented operations = the contract, both ways';

for my $op (sort keys %documented) {
    my ($method, $path) = split / /, $op;
    my $o = $documented{$op};
    is !!$o->{security}, !$public{$op}, "$op: bearer security " . ($public{$op} ? 'absent' : 'present');
    my @names = $path =~ /\{(\w+)\}/g;
    my @params = @{ $o->{parameters} };
    my @refs = map { $_->{'$ref'} } grep { $_->{'$ref'} } @params;
    is_deeply [map { $_->{name} } grep { !$_->{'$ref'} } @params], \@names, "$op: its path parameters";
    is_deeply \@refs, ($method eq 'GET' && $o->{'x-sql-function'} ? ['#/components/parameters/ReadAfter'] : []),
        "$op: QR-Read-After on the reads of a SQL function";
    (my $url = $path) =~ s/\{token\}/no-such-token-of-22-chars/g;
    $url =~ s/\{\w+\}/1/g;
    my $r = $gw->request($method, $url, { headers => { 'Content-Type' => 'application/json' },
                                          $method eq 'POST' ? (content => '{}') : () });
    ok !($r->{status} == 404 && ($r->{json}{error}{message} // '') eq 'no such resource') && $r->{status} != 405,
        "$op: routed by the gateway ($r->{status})";
    if (my $fn = $o->{'x-sql-function'}) {
        is psql('qr_test', 'SELECT has_function_privilege(' . literal('qr_gateway_role') . ', p.oid, '
                . literal('EXECUTE') . ') FROM pg_proc p WHERE p.oid = ' . literal("$fn(jsonb,jsonb,jsonb)")
                . '::regprocedure'), 't', "$op: $fn exists and the gateway role may call it";
    }
}

is $doc->{components}{parameters}{ReadAfter}{name}, 'QR-Read-After', 'the QR-Read-After header is described';
is_deeply [sort keys %{ $doc->{components}{responses}{Success}{headers} }], ['QR-Read-From', 'QR-Write-LSN'],
    'so are the routing headers of a success';

done_testing;
