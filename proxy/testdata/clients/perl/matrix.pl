#!/usr/bin/perl
# Client-matrix checks for DBD::MariaDB.
# Usage: perl matrix.pl CHECK...; connection from RDSMUX_* env.
# Prints one JSON line per check: {"check", "ok", "detail"}.
use strict;
use warnings;
use DBI;
use JSON::PP;

my $json = JSON::PP->new->canonical->allow_nonref->utf8;

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

my $TAG = $ENV{RDSMUX_TAG} || 'x';
my $UNI = "h\x{e9}llo w\x{f6}rld \x{65e5}\x{672c}\x{8a9e} \x{1F600}";

sub rows {
    my ($dbh, $sql, @params) = @_;
    return $dbh->selectall_arrayref($sql, undef, @params);
}

sub cs_ok { my ($w, $g) = @_; return $g eq $w || ($w eq 'utf8' && ($g eq 'utf8' || $g eq 'utf8mb3')); }

$checks{charsets} = sub {
    # DBD::MariaDB always talks utf8mb4; the handshake charset is fixed.
    my $dbh = connect_env();
    my $r = rows($dbh, 'SELECT @@character_set_client, @@character_set_connection, @@character_set_results')->[0];
    my $ok = !grep { !cs_ok('utf8mb4', $_) } @$r;
    return ($ok, { utf8mb4 => $r });
};
$checks{unicode} = sub {
    my $dbh = connect_env();
    my $a = rows($dbh, "SELECT '$UNI'")->[0][0];
    my $b = rows($dbh, 'SELECT ?', $UNI)->[0][0];
    my $sp = connect_env(mariadb_server_prepare => 1);
    my $c = rows($sp, 'SELECT ?', $UNI)->[0][0];
    return ($a eq $UNI && $b eq $UNI && $c eq $UNI, [$a, $b, $c]);
};
$checks{types} = sub {
    my $dbh = connect_env(mariadb_server_prepare => 1);
    my $t = "matrix_types_$TAG";
    my $blob = join('', map { chr } 0 .. 255) x 4096;
    my $dt = '2024-02-29 13:14:15.123456';
    my $dec = '12345678901234.123456';
    my $doc = { a => [1, 2, { b => $UNI }], n => undef };
    $dbh->do("DELETE FROM $t");
    my $st = $dbh->prepare("INSERT INTO $t (id, j, d, dt, b, n, s) VALUES (?, ?, ?, ?, ?, ?, ?)");
    $st->bind_param(1, 1);
    $st->bind_param(2, JSON::PP->new->utf8(0)->encode($doc));
    $st->bind_param(3, $dec);
    $st->bind_param(4, $dt);
    $st->bind_param(5, $blob, DBI::SQL_BLOB);
    $st->bind_param(6, undef);
    $st->bind_param(7, $UNI);
    $st->execute;
    my $r = rows($dbh, "SELECT id, j, d, dt, b, n, s FROM $t WHERE id = ?", 1)->[0];
    my $j = JSON::PP->new->utf8(0)->decode($r->[1]);
    my %got = (id => $r->[0] == 1, json => JSON::PP->new->canonical->encode($j) eq JSON::PP->new->canonical->encode($doc),
        decimal => $r->[2] eq $dec, datetime => $r->[3] eq $dt, blob => $r->[4] eq $blob,
        null => !defined $r->[5], str => $r->[6] eq $UNI);
    my $ok = !grep { !$_ } values %got;
    return ($ok, { map { $_ => $got{$_} ? 1 : 0 } keys %got });
};
$checks{json_metadata} = sub { return (1, "n/a: the library does not read MariaDB's extended metadata") };
$checks{metadata_cache} = sub {
    # libmariadb negotiates MariaDB's metadata cache: a server-prepared
    # statement keeps the column definitions it got at prepare (utf8mb4,
    # 400 bytes long) after character_set_results changes (binary: 100),
    # as MariaDB resends them only when the statement's metadata changes.
    my $dbh = connect_env(mariadb_server_prepare => 1);
    my $t = "matrix_types_$TAG";
    $dbh->do("DELETE FROM $t");
    $dbh->do("INSERT INTO $t (id, s) VALUES (1, ?)", undef, $UNI);
    my $st = $dbh->prepare("SELECT s FROM $t WHERE id = ?");
    my (@text, @len);
    for my $cs ('utf8mb4', 'binary', 'binary', 'utf8mb4') {
        $dbh->do("SET SESSION character_set_results = '$cs'");
        $st->execute(1);
        push @text, $st->fetchrow_arrayref->[0] eq $UNI ? 1 : 0;
        push @len, $st->{PRECISION}[0];
        $st->finish;
    }
    my $ok = !grep { !$_ } @text;
    $ok &&= !grep { $_ != 400 } @len;
    return ($ok, { text => \@text, length => \@len });
};
$checks{stmt_cache} = sub {
    my $dbh = connect_env(mariadb_server_prepare => 1);
    my $st = $dbh->prepare('SELECT ? + 1');
    my $total = 0;
    for my $i (0 .. 49) { $st->execute($i); $total += $st->fetchrow_arrayref->[0]; $st->finish; }
    return ($total == 1275, $total);
};
$checks{transactions} = sub {
    my $dbh = connect_env();
    my $t = "matrix_auto_$TAG";
    my $count = sub { rows($dbh, "SELECT COUNT(*) FROM $t WHERE v = 'tx'")->[0][0] };
    $dbh->do("DELETE FROM $t WHERE v = 'tx'");
    $dbh->begin_work;
    $dbh->do("INSERT INTO $t (v) VALUES ('tx')");
    my $in = $count->();
    $dbh->rollback;
    my $rb = $count->();
    $dbh->begin_work;
    $dbh->do("INSERT INTO $t (v) VALUES (?)", undef, 'tx');
    $dbh->commit;
    my $cm = $count->();
    return ("$in,$rb,$cm" eq '1,0,1', [$in, $rb, $cm]);
};
$checks{insert_id} = sub {
    my $dbh = connect_env();
    $dbh->do("INSERT INTO matrix_auto_$TAG (v) VALUES ('id')");
    my $id = $dbh->{mariadb_insertid};
    rows($dbh, 'SELECT 1');
    my $l = rows($dbh, 'SELECT LAST_INSERT_ID()')->[0][0];
    return ($id > 0 && $id == $l, [$id, $l]);
};
$checks{dup_key} = sub {
    my $dbh = connect_env();
    $dbh->do("INSERT IGNORE INTO matrix_auto_$TAG (id, v) VALUES (1, 'dup')");
    my $ok = eval { $dbh->do("INSERT INTO matrix_auto_$TAG (id, v) VALUES (1, 'dup')"); 1 };
    return (0, 'no error') if $ok;
    my $d = err_detail($dbh, $@);
    return ($d->{code} == 1062 && $d->{state} eq '23000', $d);
};
$checks{warnings} = sub {
    my $dbh = connect_env();
    $dbh->do("DO CAST('12abc' AS SIGNED)");
    my $n = $dbh->{mariadb_warning_count};
    my $w = rows($dbh, 'SHOW WARNINGS');
    return ($n == 1 && @$w == 1 && $w->[0][1] == 1292, [$n, $w]);
};
$checks{call_multi} = sub {
    my $dbh = connect_env();
    my $st = $dbh->prepare('CALL matrix_two()');
    $st->execute;
    my @sets;
    do { push @sets, $st->fetchall_arrayref if $st->{NUM_OF_FIELDS}; } while ($st->more_results);
    my $after = rows($dbh, 'SELECT 7')->[0][0];
    my $got = JSON::PP->new->encode([map { [map { [map { $_ + 0 } @$_] } @$_] } @sets]);
    return ($got eq '[[[1]],[[2]]]' && $after == 7, $got);
};
$checks{multi_on} = sub {
    my $dbh = connect_env(mariadb_multi_statements => 1);
    my $st = $dbh->prepare('SELECT 1; SELECT 2');
    $st->execute;
    my @sets;
    do { push @sets, $st->fetchall_arrayref; } while ($st->more_results);
    my $got = JSON::PP->new->encode([map { [map { [map { $_ + 0 } @$_] } @$_] } @sets]);
    return ($got eq '[[[1]],[[2]]]', $got);
};
$checks{multi_off} = sub {
    my $dbh = connect_env();
    my $ok = eval { rows($dbh, 'SELECT 1; SELECT 2'); 1 };
    return (0, 'batch accepted') if $ok;
    my $d = err_detail($dbh, $@);
    return ($d->{code} == 1064, $d);
};
$checks{select_db} = sub {
    my $dbh = connect_env();
    $dbh->do('USE mysql');
    my $a = rows($dbh, 'SELECT DATABASE()')->[0][0];
    $dbh->do('USE test');
    my $b = rows($dbh, 'SELECT DATABASE()')->[0][0];
    return ($a eq 'mysql' && $b eq 'test', [$a, $b]);
};
$checks{change_user} = sub { return (1, 'n/a: DBD::MariaDB has no COM_CHANGE_USER') };
$checks{reset} = sub { return (1, 'n/a: no COM_RESET_CONNECTION in this library') };
$checks{session_state} = sub {
    my $dbh = connect_env();
    $dbh->do('SET @matrix = 42');
    $dbh->do("SET SESSION time_zone = '+05:30'");
    my @vals = map { rows($dbh, 'SELECT @matrix, @@time_zone')->[0] } 1 .. 20;
    my $ok = !grep { !defined $_->[0] || $_->[0] != 42 || $_->[1] ne '+05:30' } @vals;
    return ($ok, [@vals[0 .. 2]]);
};
$checks{stream} = sub {
    # 50k rows fetched one by one; not with mariadb_use_result, which
    # returns no rows with DBD::MariaDB 1.22 (directly too).
    my $dbh = connect_env();
    my $st = $dbh->prepare('SELECT seq FROM seq_1_to_50000');
    $st->execute;
    my ($n, $s) = (0, 0);
    while (my $r = $st->fetchrow_arrayref) { $n++; $s += $r->[0]; }
    my $err = $st->errstr;
    undef $st;
    my $after = rows($dbh, 'SELECT 3')->[0][0];
    return ($n == 50000 && $s == 50000 * 50001 / 2 && $after == 3, [$n, $s, $err]);
};
$checks{cursor} = sub { return (1, 'n/a: DBD::MariaDB opens no server-side cursors') };
$checks{local_infile} = sub {
    my $dbh = connect_env(mariadb_local_infile => 1);
    my $t = "matrix_auto_$TAG";
    $dbh->do("DELETE FROM $t WHERE v LIKE 'inf%'");
    my $rows = $dbh->do("LOAD DATA LOCAL INFILE '$ENV{RDSMUX_INFILE}' INTO TABLE $t (v)");
    my $n = rows($dbh, "SELECT COUNT(*) FROM $t WHERE v LIKE 'inf%'")->[0][0];
    return ($rows == 1000 && $n == 1000, [$rows + 0, $n]);
};
$checks{burst} = sub {
    my (@conns, @errors);
    for (1 .. 200) {
        my $dbh = eval { connect_env() };
        if ($dbh) { push @conns, $dbh } else { push @errors, "$@" }
    }
    my $ok = grep { rows($_, 'SELECT 1 + 1')->[0][0] == 2 } @conns;
    return ($ok == 200, { ok => $ok, errors => [@errors[0 .. ($#errors < 2 ? $#errors : 2)]] });
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
