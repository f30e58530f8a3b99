#!/usr/bin/perl
# Client-matrix checks for DBD::MariaDB.
# Usage: perl matrix.pl CHECK...; connection from RDSMUX_* env.
# Prints one JSON line per check: {"check", "ok", "detail"}.
use strict;
use warnings;
use DBI;
use JSON::PP;

my $json = JSON::PP->new->canonical->allow_nonref;

sub dsn {
    my (%extra) = @_;
    my $dsn = "DBI:MariaDB:host=$ENV{RDSMUX_HOST};port=$ENV{RDSMUX_PORT};mariadb_connect_timeout=10";
    $dsn .= ";database=$ENV{RDSMUX_DB}" if $ENV{RDSMUX_DB};
    $dsn .= ";$_=$extra{$_}" for sort keys %extra;
    return $dsn;
}

sub connect_env {
    my (%extra) = @_;
    return DBI->connect(dsn(%extra), $ENV{RDSMUX_USER}, $ENV{RDSMUX_PASS},
        { RaiseError => 1, PrintError => 0, AutoCommit => 1 });
}

sub err_detail {
    my ($h, $e) = @_;
    return { code => ($h ? $h->err : $DBI::err), state => ($h ? $h->state : $DBI::state),
             message => ($h ? $h->errstr : $DBI::errstr) // "$e" };
}

my %checks;

$checks{probe} = sub {
    my $dbh = eval { connect_env() };
    return (0, err_detail(undef, $@)) unless $dbh;
    my $ok = eval { $dbh->selectall_arrayref($ENV{RDSMUX_SQL}); 1 };
    return $ok ? (1, 'no error') : (0, err_detail($dbh, $@));
};

$| = 1;
for my $name (@ARGV) {
    my ($ok, $detail) = (0, 'unknown check');
    if (my $fn = $checks{$name}) {
        my @r = eval { $fn->() };
        ($ok, $detail) = @r ? @r : (0, "died: $@");
    }
    print $json->encode({ check => $name, ok => $ok ? JSON::PP::true : JSON::PP::false, detail => $detail }), "\n";
}
