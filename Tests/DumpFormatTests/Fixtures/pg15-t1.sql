--
-- PostgreSQL database dump
--

\restrict b6y6zpqAfjRS6UovX8Pl6d8gKCnROMhmLcog0dzkgyM7P1oWdt2r0qLavbSbhVp

-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: Mixed Case; Type: SCHEMA; Schema: -; Owner: postgres
--

CREATE SCHEMA "Mixed Case";


ALTER SCHEMA "Mixed Case" OWNER TO postgres;

--
-- Name: new line; Type: SCHEMA; Schema: -; Owner: postgres
--

CREATE SCHEMA "new
line";


ALTER SCHEMA "new
line" OWNER TO postgres;

--
-- Name: SCHEMA public; Type: COMMENT; Schema: -; Owner: pg_database_owner
--

COMMENT ON SCHEMA public IS 'changed public comment';


--
-- Name: s1; Type: SCHEMA; Schema: -; Owner: alice
--

CREATE SCHEMA s1;


ALTER SCHEMA s1 OWNER TO alice;

--
-- Name: handler(); Type: FUNCTION; Schema: s1; Owner: postgres
--

CREATE FUNCTION s1.handler() RETURNS language_handler
    LANGUAGE c
    AS 'plpgsql', 'plpgsql_call_handler';


ALTER FUNCTION s1.handler() OWNER TO postgres;

--
-- Name: mylang; Type: PROCEDURAL LANGUAGE; Schema: -; Owner: postgres
--

CREATE PROCEDURAL LANGUAGE mylang HANDLER s1.handler;


ALTER PROCEDURAL LANGUAGE mylang OWNER TO postgres;

--
-- Name: mycoll; Type: COLLATION; Schema: s1; Owner: postgres
--

CREATE COLLATION s1.mycoll (provider = icu, locale = 'und');


ALTER COLLATION s1.mycoll OWNER TO postgres;

--
-- Name: comp; Type: TYPE; Schema: s1; Owner: postgres
--

CREATE TYPE s1.comp AS (
	a integer,
	b text
);


ALTER TYPE s1.comp OWNER TO postgres;

--
-- Name: COLUMN comp.a; Type: COMMENT; Schema: s1; Owner: postgres
--

COMMENT ON COLUMN s1.comp.a IS 'comp col';


--
-- Name: tf(internal); Type: FUNCTION; Schema: s1; Owner: postgres
--

CREATE FUNCTION s1.tf(internal) RETURNS internal
    LANGUAGE internal IMMUTABLE
    AS $$prsd_start$$;


ALTER FUNCTION s1.tf(internal) OWNER TO postgres;

--
-- Name: tf2(internal); Type: FUNCTION; Schema: s1; Owner: postgres
--

CREATE FUNCTION s1.tf2(internal) RETURNS s1.comp
    LANGUAGE internal IMMUTABLE
    AS $$prsd_start$$;


ALTER FUNCTION s1.tf2(internal) OWNER TO postgres;

--
-- Name: TRANSFORM FOR s1.comp LANGUAGE mylang; Type: TRANSFORM; Schema: -; Owner: -
--

CREATE TRANSFORM FOR s1.comp LANGUAGE mylang (FROM SQL WITH FUNCTION s1.tf(internal), TO SQL WITH FUNCTION s1.tf2(internal));


--
-- Name: hstore; Type: EXTENSION; Schema: -; Owner: -
--

CREATE EXTENSION IF NOT EXISTS hstore WITH SCHEMA s1;


--
-- Name: EXTENSION hstore; Type: COMMENT; Schema: -; Owner: 
--

COMMENT ON EXTENSION hstore IS 'hs';


--
-- Name: postgres_fdw; Type: EXTENSION; Schema: -; Owner: -
--

CREATE EXTENSION IF NOT EXISTS postgres_fdw WITH SCHEMA public;


--
-- Name: EXTENSION postgres_fdw; Type: COMMENT; Schema: -; Owner: 
--

COMMENT ON EXTENSION postgres_fdw IS 'foreign-data wrapper for remote PostgreSQL servers';


--
-- Name: floatrange; Type: TYPE; Schema: s1; Owner: postgres
--

CREATE TYPE s1.floatrange AS RANGE (
    subtype = double precision,
    multirange_type_name = s1.floatmultirange,
    subtype_diff = float8mi
);


ALTER TYPE s1.floatrange OWNER TO postgres;

--
-- Name: mood; Type: TYPE; Schema: s1; Owner: postgres
--

CREATE TYPE s1.mood AS ENUM (
    'sad',
    'ok',
    'it''s happy'
);


ALTER TYPE s1.mood OWNER TO postgres;

--
-- Name: posint; Type: DOMAIN; Schema: s1; Owner: postgres
--

CREATE DOMAIN s1.posint AS integer NOT NULL DEFAULT 1
	CONSTRAINT posint_check CHECK ((VALUE > 0));


ALTER DOMAIN s1.posint OWNER TO postgres;

--
-- Name: DOMAIN posint; Type: COMMENT; Schema: s1; Owner: postgres
--

COMMENT ON DOMAIN s1.posint IS 'dom';


--
-- Name: shell; Type: SHELL TYPE; Schema: s1; Owner: postgres
--

CREATE TYPE s1.shell;


--
-- Name: myin(cstring); Type: FUNCTION; Schema: s1; Owner: postgres
--

CREATE FUNCTION s1.myin(cstring) RETURNS s1.shell
    LANGUAGE internal IMMUTABLE STRICT
    AS $$textin$$;


ALTER FUNCTION s1.myin(cstring) OWNER TO postgres;

--
-- Name: myout(s1.shell); Type: FUNCTION; Schema: s1; Owner: postgres
--

CREATE FUNCTION s1.myout(s1.shell) RETURNS cstring
    LANGUAGE internal IMMUTABLE STRICT
    AS $$textout$$;


ALTER FUNCTION s1.myout(s1.shell) OWNER TO postgres;

--
-- Name: shell; Type: TYPE; Schema: s1; Owner: postgres
--

CREATE TYPE s1.shell (
    INTERNALLENGTH = variable,
    INPUT = s1.myin,
    OUTPUT = s1.myout,
    ALIGNMENT = int4,
    STORAGE = extended
);


ALTER TYPE s1.shell OWNER TO postgres;

--
-- Name: cast_fn(s1.comp); Type: FUNCTION; Schema: s1; Owner: postgres
--

CREATE FUNCTION s1.cast_fn(s1.comp) RETURNS integer
    LANGUAGE sql
    AS $_$SELECT $1.a$_$;


ALTER FUNCTION s1.cast_fn(s1.comp) OWNER TO postgres;

--
-- Name: CAST (s1.comp AS integer); Type: CAST; Schema: -; Owner: -
--

CREATE CAST (s1.comp AS integer) WITH FUNCTION s1.cast_fn(s1.comp) AS ASSIGNMENT;


--
-- Name: CAST (s1.comp AS integer); Type: COMMENT; Schema: -; Owner: 
--

COMMENT ON CAST (s1.comp AS integer) IS 'cast';


--
-- Name: circ; Type: VIEW; Schema: s1; Owner: postgres
--

CREATE VIEW s1.circ AS
SELECT
    NULL::integer AS a,
    NULL::text AS b;


ALTER TABLE s1.circ OWNER TO postgres;

--
-- Name: circ_fn(); Type: FUNCTION; Schema: s1; Owner: postgres
--

CREATE FUNCTION s1.circ_fn() RETURNS SETOF s1.circ
    LANGUAGE sql
    AS $$SELECT * FROM s1.circ$$;


ALTER FUNCTION s1.circ_fn() OWNER TO postgres;

--
-- Name: evt(); Type: FUNCTION; Schema: s1; Owner: postgres
--

CREATE FUNCTION s1.evt() RETURNS event_trigger
    LANGUAGE plpgsql
    AS $$BEGIN END$$;


ALTER FUNCTION s1.evt() OWNER TO postgres;

--
-- Name: f_dollar(text); Type: FUNCTION; Schema: s1; Owner: postgres
--

CREATE FUNCTION s1.f_dollar(x text) RETURNS text
    LANGUAGE plpgsql
    AS $_$ BEGIN RETURN x || '$$' || $q$it's$q$; END $_$;


ALTER FUNCTION s1.f_dollar(x text) OWNER TO postgres;

--
-- Name: f_ret(integer); Type: FUNCTION; Schema: s1; Owner: alice
--

CREATE FUNCTION s1.f_ret(a integer) RETURNS integer
    LANGUAGE sql
    RETURN (a * 2);
ALTER FUNCTION s1.f_ret(a integer) DEPENDS ON EXTENSION postgres_fdw;


ALTER FUNCTION s1.f_ret(a integer) OWNER TO alice;

--
-- Name: FUNCTION f_ret(a integer); Type: COMMENT; Schema: s1; Owner: alice
--

COMMENT ON FUNCTION s1.f_ret(a integer) IS 'fn';


--
-- Name: f_sqlbody(integer); Type: FUNCTION; Schema: s1; Owner: postgres
--

CREATE FUNCTION s1.f_sqlbody(a integer) RETURNS integer
    LANGUAGE sql IMMUTABLE
    BEGIN ATOMIC
 SELECT (a + 1);
 SELECT (a + 2);
END;


ALTER FUNCTION s1.f_sqlbody(a integer) OWNER TO postgres;

--
-- Name: opfn(integer, s1.comp); Type: FUNCTION; Schema: s1; Owner: postgres
--

CREATE FUNCTION s1.opfn(integer, s1.comp) RETURNS boolean
    LANGUAGE sql
    AS $_$SELECT $1 = $2.a$_$;


ALTER FUNCTION s1.opfn(integer, s1.comp) OWNER TO postgres;

--
-- Name: p1(); Type: PROCEDURE; Schema: s1; Owner: postgres
--

CREATE PROCEDURE s1.p1()
    LANGUAGE plpgsql
    SET search_path TO 's1', 'public'
    AS $$ BEGIN NULL; END $$;


ALTER PROCEDURE s1.p1() OWNER TO postgres;

--
-- Name: trg(); Type: FUNCTION; Schema: s1; Owner: postgres
--

CREATE FUNCTION s1.trg() RETURNS trigger
    LANGUAGE plpgsql
    AS $$BEGIN RETURN NEW; END$$;


ALTER FUNCTION s1.trg() OWNER TO postgres;

--
-- Name: mysum(integer); Type: AGGREGATE; Schema: s1; Owner: postgres
--

CREATE AGGREGATE s1.mysum(integer) (
    SFUNC = int4pl,
    STYPE = integer,
    INITCOND = '0'
);


ALTER AGGREGATE s1.mysum(integer) OWNER TO postgres;

--
-- Name: AGGREGATE mysum(integer); Type: COMMENT; Schema: s1; Owner: postgres
--

COMMENT ON AGGREGATE s1.mysum(integer) IS 'agg';


--
-- Name: myam; Type: ACCESS METHOD; Schema: -; Owner: -
--

CREATE ACCESS METHOD myam TYPE TABLE HANDLER heap_tableam_handler;


--
-- Name: ===; Type: OPERATOR; Schema: s1; Owner: postgres
--

CREATE OPERATOR s1.=== (
    FUNCTION = s1.opfn,
    LEFTARG = integer,
    RIGHTARG = s1.comp
);


ALTER OPERATOR s1.=== (integer, s1.comp) OWNER TO postgres;

--
-- Name: myfam; Type: OPERATOR FAMILY; Schema: s1; Owner: postgres
--

CREATE OPERATOR FAMILY s1.myfam USING btree;
ALTER OPERATOR FAMILY s1.myfam USING btree ADD
    OPERATOR 1 <(integer,bigint) ,
    FUNCTION 1 (integer, bigint) btint48cmp(integer,bigint);


ALTER OPERATOR FAMILY s1.myfam USING btree OWNER TO postgres;

--
-- Name: myops; Type: OPERATOR CLASS; Schema: s1; Owner: postgres
--

CREATE OPERATOR CLASS s1.myops
    FOR TYPE integer USING btree FAMILY s1.myfam AS
    OPERATOR 1 <(integer,integer) ,
    OPERATOR 3 =(integer,integer) ,
    FUNCTION 1 (integer, integer) btint4cmp(integer,integer);


ALTER OPERATOR CLASS s1.myops USING btree OWNER TO postgres;

--
-- Name: myconv; Type: CONVERSION; Schema: s1; Owner: postgres
--

CREATE CONVERSION s1.myconv FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8;


ALTER CONVERSION s1.myconv OWNER TO postgres;

--
-- Name: myprs; Type: TEXT SEARCH PARSER; Schema: s1; Owner: -
--

CREATE TEXT SEARCH PARSER s1.myprs (
    START = prsd_start,
    GETTOKEN = prsd_nexttoken,
    END = prsd_end,
    LEXTYPES = prsd_lextype );


--
-- Name: mytmpl; Type: TEXT SEARCH TEMPLATE; Schema: s1; Owner: -
--

CREATE TEXT SEARCH TEMPLATE s1.mytmpl (
    LEXIZE = dsimple_lexize );


--
-- Name: mydict; Type: TEXT SEARCH DICTIONARY; Schema: s1; Owner: postgres
--

CREATE TEXT SEARCH DICTIONARY s1.mydict (
    TEMPLATE = pg_catalog.simple,
    stopwords = 'english' );


ALTER TEXT SEARCH DICTIONARY s1.mydict OWNER TO postgres;

--
-- Name: mycfg; Type: TEXT SEARCH CONFIGURATION; Schema: s1; Owner: postgres
--

CREATE TEXT SEARCH CONFIGURATION s1.mycfg (
    PARSER = pg_catalog."default" );

ALTER TEXT SEARCH CONFIGURATION s1.mycfg
    ADD MAPPING FOR asciiword WITH english_stem;

ALTER TEXT SEARCH CONFIGURATION s1.mycfg
    ADD MAPPING FOR word WITH english_stem;

ALTER TEXT SEARCH CONFIGURATION s1.mycfg
    ADD MAPPING FOR numword WITH simple;

ALTER TEXT SEARCH CONFIGURATION s1.mycfg
    ADD MAPPING FOR email WITH simple;

ALTER TEXT SEARCH CONFIGURATION s1.mycfg
    ADD MAPPING FOR url WITH simple;

ALTER TEXT SEARCH CONFIGURATION s1.mycfg
    ADD MAPPING FOR host WITH simple;

ALTER TEXT SEARCH CONFIGURATION s1.mycfg
    ADD MAPPING FOR sfloat WITH simple;

ALTER TEXT SEARCH CONFIGURATION s1.mycfg
    ADD MAPPING FOR version WITH simple;

ALTER TEXT SEARCH CONFIGURATION s1.mycfg
    ADD MAPPING FOR hword_numpart WITH simple;

ALTER TEXT SEARCH CONFIGURATION s1.mycfg
    ADD MAPPING FOR hword_part WITH english_stem;

ALTER TEXT SEARCH CONFIGURATION s1.mycfg
    ADD MAPPING FOR hword_asciipart WITH english_stem;

ALTER TEXT SEARCH CONFIGURATION s1.mycfg
    ADD MAPPING FOR numhword WITH simple;

ALTER TEXT SEARCH CONFIGURATION s1.mycfg
    ADD MAPPING FOR asciihword WITH english_stem;

ALTER TEXT SEARCH CONFIGURATION s1.mycfg
    ADD MAPPING FOR hword WITH english_stem;

ALTER TEXT SEARCH CONFIGURATION s1.mycfg
    ADD MAPPING FOR url_path WITH simple;

ALTER TEXT SEARCH CONFIGURATION s1.mycfg
    ADD MAPPING FOR file WITH simple;

ALTER TEXT SEARCH CONFIGURATION s1.mycfg
    ADD MAPPING FOR "float" WITH simple;

ALTER TEXT SEARCH CONFIGURATION s1.mycfg
    ADD MAPPING FOR "int" WITH simple;

ALTER TEXT SEARCH CONFIGURATION s1.mycfg
    ADD MAPPING FOR uint WITH simple;


ALTER TEXT SEARCH CONFIGURATION s1.mycfg OWNER TO postgres;

--
-- Name: mywrapper; Type: FOREIGN DATA WRAPPER; Schema: -; Owner: postgres
--

CREATE FOREIGN DATA WRAPPER mywrapper OPTIONS (
    debug 'true'
);


ALTER FOREIGN DATA WRAPPER mywrapper OWNER TO postgres;

--
-- Name: mysrv; Type: SERVER; Schema: -; Owner: postgres
--

CREATE SERVER mysrv FOREIGN DATA WRAPPER postgres_fdw OPTIONS (
    dbname 'x',
    host E'a\\b'
);


ALTER SERVER mysrv OWNER TO postgres;

--
-- Name: USER MAPPING alice SERVER mysrv; Type: USER MAPPING; Schema: -; Owner: postgres
--

CREATE USER MAPPING FOR alice SERVER mysrv OPTIONS (
    password E'p\\w',
    "user" 'al''ice'
);


--
-- Name: USER MAPPING public SERVER mysrv; Type: USER MAPPING; Schema: -; Owner: postgres
--

CREATE USER MAPPING FOR public SERVER mysrv;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: Tab"le; Type: TABLE; Schema: Mixed Case; Owner: postgres
--

CREATE TABLE "Mixed Case"."Tab""le" (
    "Col" text,
    "user" integer,
    "end" integer
);


ALTER TABLE "Mixed Case"."Tab""le" OWNER TO postgres;

SET default_table_access_method = myam;

--
-- Name: amtab; Type: TABLE; Schema: s1; Owner: postgres
--

CREATE TABLE s1.amtab (
    x integer
);


ALTER TABLE s1.amtab OWNER TO postgres;

SET default_table_access_method = heap;

--
-- Name: t; Type: TABLE; Schema: s1; Owner: alice
--

CREATE TABLE s1.t (
    id integer NOT NULL,
    "Select" text COLLATE s1.mycoll,
    m s1.mood,
    h s1.hstore,
    g integer GENERATED ALWAYS AS ((id * 2)) STORED,
    d s1.posint,
    ser integer NOT NULL,
    big bytea
)
WITH (fillfactor='80');
ALTER TABLE ONLY s1.t ALTER COLUMN "Select" SET STATISTICS 500;
ALTER TABLE ONLY s1.t ALTER COLUMN "Select" SET STORAGE EXTERNAL;
ALTER TABLE ONLY s1.t ALTER COLUMN "Select" SET COMPRESSION pglz;
ALTER TABLE ONLY s1.t ALTER COLUMN m SET (n_distinct=5);

ALTER TABLE ONLY s1.t REPLICA IDENTITY FULL;

ALTER TABLE ONLY s1.t FORCE ROW LEVEL SECURITY;


ALTER TABLE s1.t OWNER TO alice;

--
-- Name: TABLE t; Type: COMMENT; Schema: s1; Owner: alice
--

COMMENT ON TABLE s1.t IS 'table comment with \ backslash and ''quote''
newline';


--
-- Name: COLUMN t.id; Type: COMMENT; Schema: s1; Owner: alice
--

COMMENT ON COLUMN s1.t.id IS 'col comment';


--
-- Name: child; Type: TABLE; Schema: s1; Owner: postgres
--

CREATE TABLE s1.child (
    extra integer NOT NULL
)
INHERITS (s1.t);
ALTER TABLE ONLY s1.child ALTER COLUMN "Select" SET STORAGE EXTERNAL;
ALTER TABLE ONLY s1.child ALTER COLUMN "Select" SET COMPRESSION pglz;
ALTER TABLE ONLY s1.child ALTER COLUMN m SET NOT NULL;


ALTER TABLE s1.child OWNER TO postgres;

--
-- Name: fk; Type: TABLE; Schema: s1; Owner: postgres
--

CREATE TABLE s1.fk (
    id integer,
    c integer,
    CONSTRAINT fk_c_check CHECK ((c > 0))
);


ALTER TABLE s1.fk OWNER TO postgres;

--
-- Name: ft; Type: FOREIGN TABLE; Schema: s1; Owner: postgres
--

CREATE FOREIGN TABLE s1.ft (
    a integer,
    b text
)
SERVER mysrv
OPTIONS (
    table_name 'remote'
);
ALTER FOREIGN TABLE s1.ft ALTER COLUMN a OPTIONS (
    column_name E'A\\x'
);


ALTER FOREIGN TABLE s1.ft OWNER TO postgres;

--
-- Name: hp; Type: TABLE; Schema: s1; Owner: postgres
--

CREATE TABLE s1.hp (
    e s1.mood
)
PARTITION BY HASH (e);


ALTER TABLE s1.hp OWNER TO postgres;

--
-- Name: hp0; Type: TABLE; Schema: s1; Owner: postgres
--

CREATE TABLE s1.hp0 (
    e s1.mood
);


ALTER TABLE s1.hp0 OWNER TO postgres;

--
-- Name: hp1; Type: TABLE; Schema: s1; Owner: postgres
--

CREATE TABLE s1.hp1 (
    e s1.mood
);


ALTER TABLE s1.hp1 OWNER TO postgres;

--
-- Name: mv; Type: MATERIALIZED VIEW; Schema: s1; Owner: postgres
--

CREATE MATERIALIZED VIEW s1.mv AS
 SELECT count(*) AS count
   FROM s1.t
  WITH NO DATA;


ALTER TABLE s1.mv OWNER TO postgres;

--
-- Name: mv_nodata; Type: MATERIALIZED VIEW; Schema: s1; Owner: postgres
--

CREATE MATERIALIZED VIEW s1.mv_nodata AS
 SELECT 1 AS x
  WITH NO DATA;


ALTER TABLE s1.mv_nodata OWNER TO postgres;

--
-- Name: nocols; Type: TABLE; Schema: s1; Owner: postgres
--

CREATE TABLE s1.nocols (
);


ALTER TABLE s1.nocols OWNER TO postgres;

--
-- Name: parted; Type: TABLE; Schema: s1; Owner: postgres
--

CREATE TABLE s1.parted (
    k integer,
    v text
)
PARTITION BY RANGE (k);


ALTER TABLE s1.parted OWNER TO postgres;

--
-- Name: part1; Type: TABLE; Schema: s1; Owner: postgres
--

CREATE TABLE s1.part1 (
    k integer,
    v text
);


ALTER TABLE s1.part1 OWNER TO postgres;

--
-- Name: part2; Type: TABLE; Schema: s1; Owner: postgres
--

CREATE TABLE s1.part2 (
    k integer,
    v text
);


ALTER TABLE s1.part2 OWNER TO postgres;

--
-- Name: pt_trg; Type: TABLE; Schema: s1; Owner: postgres
--

CREATE TABLE s1.pt_trg (
    k integer
)
PARTITION BY LIST (k);


ALTER TABLE s1.pt_trg OWNER TO postgres;

--
-- Name: pt_trg1; Type: TABLE; Schema: s1; Owner: postgres
--

CREATE TABLE s1.pt_trg1 (
    k integer
);


ALTER TABLE s1.pt_trg1 OWNER TO postgres;

--
-- Name: ri; Type: TABLE; Schema: s1; Owner: postgres
--

CREATE TABLE s1.ri (
    a integer NOT NULL
);


ALTER TABLE s1.ri OWNER TO postgres;

--
-- Name: seq; Type: SEQUENCE; Schema: s1; Owner: postgres
--

CREATE SEQUENCE s1.seq
    AS integer
    START WITH 3
    INCREMENT BY 5
    MINVALUE -100
    MAXVALUE 100
    CACHE 2
    CYCLE;


ALTER TABLE s1.seq OWNER TO postgres;

--
-- Name: t_id_seq; Type: SEQUENCE; Schema: s1; Owner: alice
--

ALTER TABLE s1.t ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME s1.t_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: t_ser_seq; Type: SEQUENCE; Schema: s1; Owner: alice
--

CREATE SEQUENCE s1.t_ser_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


ALTER TABLE s1.t_ser_seq OWNER TO alice;

--
-- Name: t_ser_seq; Type: SEQUENCE OWNED BY; Schema: s1; Owner: alice
--

ALTER SEQUENCE s1.t_ser_seq OWNED BY s1.t.ser;


--
-- Name: typed; Type: TABLE; Schema: s1; Owner: postgres
--

CREATE TABLE s1.typed OF s1.comp (
    a NOT NULL
);


ALTER TABLE s1.typed OWNER TO postgres;

--
-- Name: unl; Type: TABLE; Schema: s1; Owner: postgres
--

CREATE UNLOGGED TABLE s1.unl (
    x integer
);


ALTER TABLE s1.unl OWNER TO postgres;

--
-- Name: v; Type: VIEW; Schema: s1; Owner: postgres
--

CREATE VIEW s1.v AS
 SELECT t.id,
    t."Select"
   FROM s1.t
  WITH CASCADED CHECK OPTION;


ALTER TABLE s1.v OWNER TO postgres;

--
-- Name: vt; Type: TABLE; Schema: s1; Owner: postgres
--

CREATE TABLE s1.vt (
    a integer,
    b text
);


ALTER TABLE s1.vt OWNER TO postgres;

--
-- Name: hp0; Type: TABLE ATTACH; Schema: s1; Owner: postgres
--

ALTER TABLE ONLY s1.hp ATTACH PARTITION s1.hp0 FOR VALUES WITH (modulus 2, remainder 0);


--
-- Name: hp1; Type: TABLE ATTACH; Schema: s1; Owner: postgres
--

ALTER TABLE ONLY s1.hp ATTACH PARTITION s1.hp1 FOR VALUES WITH (modulus 2, remainder 1);


--
-- Name: part1; Type: TABLE ATTACH; Schema: s1; Owner: postgres
--

ALTER TABLE ONLY s1.parted ATTACH PARTITION s1.part1 FOR VALUES FROM (0) TO (10);


--
-- Name: part2; Type: TABLE ATTACH; Schema: s1; Owner: postgres
--

ALTER TABLE ONLY s1.parted ATTACH PARTITION s1.part2 FOR VALUES FROM (10) TO (20);


--
-- Name: pt_trg1; Type: TABLE ATTACH; Schema: s1; Owner: postgres
--

ALTER TABLE ONLY s1.pt_trg ATTACH PARTITION s1.pt_trg1 FOR VALUES IN (1);


--
-- Name: child ser; Type: DEFAULT; Schema: s1; Owner: postgres
--

ALTER TABLE ONLY s1.child ALTER COLUMN ser SET DEFAULT nextval('s1.t_ser_seq'::regclass);


--
-- Name: t ser; Type: DEFAULT; Schema: s1; Owner: alice
--

ALTER TABLE ONLY s1.t ALTER COLUMN ser SET DEFAULT nextval('s1.t_ser_seq'::regclass);


--
-- Name: 424242; Type: BLOB; Schema: -; Owner: alice
--

SELECT pg_catalog.lo_create('424242');


ALTER LARGE OBJECT 424242 OWNER TO alice;

--
-- Name: LARGE OBJECT 424242; Type: COMMENT; Schema: -; Owner: alice
--

COMMENT ON LARGE OBJECT 424242 IS 'lo comment';


--
-- Name: 424243; Type: BLOB; Schema: -; Owner: postgres
--

SELECT pg_catalog.lo_create('424243');


ALTER LARGE OBJECT 424243 OWNER TO postgres;

--
-- Data for Name: Tab"le; Type: TABLE DATA; Schema: Mixed Case; Owner: postgres
--

COPY "Mixed Case"."Tab""le" ("Col", "user", "end") FROM stdin;
tab\there\nnewline\\back	1	2
\N	\N	\N
\\.	3	4
\.


--
-- Data for Name: amtab; Type: TABLE DATA; Schema: s1; Owner: postgres
--

COPY s1.amtab (x) FROM stdin;
\.


--
-- Data for Name: child; Type: TABLE DATA; Schema: s1; Owner: postgres
--

COPY s1.child (id, "Select", m, h, d, ser, big, extra) FROM stdin;
99	c	sad	\N	1	3	\N	1
\.


--
-- Data for Name: fk; Type: TABLE DATA; Schema: s1; Owner: postgres
--

COPY s1.fk (id, c) FROM stdin;
\.


--
-- Data for Name: hp0; Type: TABLE DATA; Schema: s1; Owner: postgres
--

-- load via partition root s1.hp

COPY s1.hp (e) FROM stdin;
\.


--
-- Data for Name: hp1; Type: TABLE DATA; Schema: s1; Owner: postgres
--

-- load via partition root s1.hp

COPY s1.hp (e) FROM stdin;
ok
\.


--
-- Data for Name: nocols; Type: TABLE DATA; Schema: s1; Owner: postgres
--

COPY s1.nocols  FROM stdin;
\.


--
-- Data for Name: part1; Type: TABLE DATA; Schema: s1; Owner: postgres
--

COPY s1.part1 (k, v) FROM stdin;
1	a
\.


--
-- Data for Name: part2; Type: TABLE DATA; Schema: s1; Owner: postgres
--

COPY s1.part2 (k, v) FROM stdin;
15	b
\.


--
-- Data for Name: pt_trg1; Type: TABLE DATA; Schema: s1; Owner: postgres
--

COPY s1.pt_trg1 (k) FROM stdin;
\.


--
-- Data for Name: ri; Type: TABLE DATA; Schema: s1; Owner: postgres
--

COPY s1.ri (a) FROM stdin;
\.


--
-- Data for Name: t; Type: TABLE DATA; Schema: s1; Owner: alice
--

COPY s1.t (id, "Select", m, h, d, ser, big) FROM stdin;
1	x	ok	"a"=>"b"	3	1	\\x00ff
\.


--
-- Data for Name: typed; Type: TABLE DATA; Schema: s1; Owner: postgres
--

COPY s1.typed (a, b) FROM stdin;
\.


--
-- Data for Name: unl; Type: TABLE DATA; Schema: s1; Owner: postgres
--

COPY s1.unl (x) FROM stdin;
\.


--
-- Data for Name: vt; Type: TABLE DATA; Schema: s1; Owner: postgres
--

COPY s1.vt (a, b) FROM stdin;
\.


--
-- Name: seq; Type: SEQUENCE SET; Schema: s1; Owner: postgres
--

SELECT pg_catalog.setval('s1.seq', 7, true);


--
-- Name: t_id_seq; Type: SEQUENCE SET; Schema: s1; Owner: alice
--

SELECT pg_catalog.setval('s1.t_id_seq', 1, true);


--
-- Name: t_ser_seq; Type: SEQUENCE SET; Schema: s1; Owner: alice
--

SELECT pg_catalog.setval('s1.t_ser_seq', 3, true);


--
-- Data for Name: BLOBS; Type: BLOBS; Schema: -; Owner: -
--

BEGIN;

SELECT pg_catalog.lo_open('424242', 131072);
SELECT pg_catalog.lowrite(0, '\x68656c6c6f00776f726c64');
SELECT pg_catalog.lo_close(0);

SELECT pg_catalog.lo_open('424243', 131072);
SELECT pg_catalog.lo_close(0);

COMMIT;

--
-- Name: fk ex; Type: CONSTRAINT; Schema: s1; Owner: postgres
--

ALTER TABLE ONLY s1.fk
    ADD CONSTRAINT ex EXCLUDE USING btree (c WITH =);


--
-- Name: fk nv; Type: CHECK CONSTRAINT; Schema: s1; Owner: postgres
--

ALTER TABLE s1.fk
    ADD CONSTRAINT nv CHECK ((c < 100)) NOT VALID;


--
-- Name: CONSTRAINT nv ON fk; Type: COMMENT; Schema: s1; Owner: postgres
--

COMMENT ON CONSTRAINT nv ON s1.fk IS 'not valid chk';


--
-- Name: t t_pkey; Type: CONSTRAINT; Schema: s1; Owner: alice
--

ALTER TABLE ONLY s1.t
    ADD CONSTRAINT t_pkey PRIMARY KEY (id);


--
-- Name: parted_idx; Type: INDEX; Schema: s1; Owner: postgres
--

CREATE INDEX parted_idx ON ONLY s1.parted USING btree (k);


--
-- Name: part1_k_idx; Type: INDEX; Schema: s1; Owner: postgres
--

CREATE INDEX part1_k_idx ON s1.part1 USING btree (k);


--
-- Name: part2_k_idx; Type: INDEX; Schema: s1; Owner: postgres
--

CREATE INDEX part2_k_idx ON s1.part2 USING btree (k);


--
-- Name: ri_idx; Type: INDEX; Schema: s1; Owner: postgres
--

CREATE UNIQUE INDEX ri_idx ON s1.ri USING btree (a);

ALTER TABLE ONLY s1.ri REPLICA IDENTITY USING INDEX ri_idx;


--
-- Name: t_expr_idx; Type: INDEX; Schema: s1; Owner: alice
--

CREATE INDEX t_expr_idx ON s1.t USING btree (((id + 1)));

ALTER TABLE s1.t CLUSTER ON t_expr_idx;
ALTER INDEX s1.t_expr_idx ALTER COLUMN 1 SET STATISTICS 100;


--
-- Name: INDEX t_expr_idx; Type: COMMENT; Schema: s1; Owner: alice
--

COMMENT ON INDEX s1.t_expr_idx IS 'idx';


--
-- Name: t_id_idx; Type: INDEX; Schema: s1; Owner: alice
--

CREATE INDEX t_id_idx ON s1.t USING btree (id);


--
-- Name: t_sel_idx; Type: INDEX; Schema: s1; Owner: alice
--

CREATE UNIQUE INDEX t_sel_idx ON s1.t USING btree ("Select") WHERE (id > 0);


--
-- Name: part1_k_idx; Type: INDEX ATTACH; Schema: s1; Owner: postgres
--

ALTER INDEX s1.parted_idx ATTACH PARTITION s1.part1_k_idx;


--
-- Name: part2_k_idx; Type: INDEX ATTACH; Schema: s1; Owner: postgres
--

ALTER INDEX s1.parted_idx ATTACH PARTITION s1.part2_k_idx;


--
-- Name: st; Type: STATISTICS; Schema: s1; Owner: postgres
--

CREATE STATISTICS s1.st (dependencies) ON id, c FROM s1.fk;
ALTER STATISTICS s1.st SET STATISTICS 50;


ALTER STATISTICS s1.st OWNER TO postgres;

--
-- Name: circ _RETURN; Type: RULE; Schema: s1; Owner: postgres
--

CREATE OR REPLACE VIEW s1.circ AS
 SELECT f.a,
    f.b
   FROM s1.circ_fn() f(a, b);


--
-- Name: vt _RETURN_dummy; Type: RULE; Schema: s1; Owner: postgres
--

CREATE RULE "_RETURN_dummy" AS
    ON INSERT TO s1.vt DO INSTEAD NOTHING;
ALTER TABLE s1.vt DISABLE RULE "_RETURN_dummy";


--
-- Name: RULE "_RETURN_dummy" ON vt; Type: COMMENT; Schema: s1; Owner: postgres
--

COMMENT ON RULE "_RETURN_dummy" ON s1.vt IS 'rule';


--
-- Name: fk ctr; Type: TRIGGER; Schema: s1; Owner: postgres
--

CREATE CONSTRAINT TRIGGER ctr AFTER INSERT ON s1.fk DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION s1.trg();


--
-- Name: pt_trg ptt; Type: TRIGGER; Schema: s1; Owner: postgres
--

CREATE TRIGGER ptt AFTER INSERT ON s1.pt_trg FOR EACH ROW EXECUTE FUNCTION s1.trg();


--
-- Name: pt_trg1 ptt; Type: TRIGGER; Schema: s1; Owner: postgres
--


ALTER TABLE s1.pt_trg1 DISABLE TRIGGER ptt;


--
-- Name: t tr1; Type: TRIGGER; Schema: s1; Owner: alice
--

CREATE TRIGGER tr1 BEFORE INSERT OR UPDATE ON s1.t FOR EACH ROW EXECUTE FUNCTION s1.trg('arg''1', 'a\b');

ALTER TABLE s1.t DISABLE TRIGGER tr1;


--
-- Name: TRIGGER tr1 ON t; Type: COMMENT; Schema: s1; Owner: alice
--

COMMENT ON TRIGGER tr1 ON s1.t IS 'trg';


--
-- Name: fk fk_id_fkey; Type: FK CONSTRAINT; Schema: s1; Owner: postgres
--

ALTER TABLE ONLY s1.fk
    ADD CONSTRAINT fk_id_fkey FOREIGN KEY (id) REFERENCES s1.t(id) DEFERRABLE;


--
-- Name: t p1; Type: POLICY; Schema: s1; Owner: alice
--

CREATE POLICY p1 ON s1.t AS RESTRICTIVE FOR SELECT TO alice USING ((id > 0));


--
-- Name: POLICY p1 ON t; Type: COMMENT; Schema: s1; Owner: alice
--

COMMENT ON POLICY p1 ON s1.t IS 'pol';


--
-- Name: t p2; Type: POLICY; Schema: s1; Owner: alice
--

CREATE POLICY p2 ON s1.t FOR INSERT WITH CHECK (true);


--
-- Name: t; Type: ROW SECURITY; Schema: s1; Owner: alice
--

ALTER TABLE s1.t ENABLE ROW LEVEL SECURITY;

--
-- Name: pub1; Type: PUBLICATION; Schema: -; Owner: postgres
--

CREATE PUBLICATION pub1 WITH (publish = 'insert', publish_via_partition_root = true);


ALTER PUBLICATION pub1 OWNER TO postgres;

--
-- Name: PUBLICATION pub1; Type: COMMENT; Schema: -; Owner: postgres
--

COMMENT ON PUBLICATION pub1 IS 'pub';


--
-- Name: pub2; Type: PUBLICATION; Schema: -; Owner: postgres
--

CREATE PUBLICATION pub2 WITH (publish = 'insert, update, delete, truncate');


ALTER PUBLICATION pub2 OWNER TO postgres;

--
-- Name: puball; Type: PUBLICATION; Schema: -; Owner: postgres
--

CREATE PUBLICATION puball FOR ALL TABLES WITH (publish = 'insert, update, delete, truncate');


ALTER PUBLICATION puball OWNER TO postgres;

--
-- Name: pub1 child; Type: PUBLICATION TABLE; Schema: s1; Owner: postgres
--

ALTER PUBLICATION pub1 ADD TABLE ONLY s1.child WHERE ((id > 5));


--
-- Name: pub1 fk; Type: PUBLICATION TABLE; Schema: s1; Owner: postgres
--

ALTER PUBLICATION pub1 ADD TABLE ONLY s1.fk (id, c);


--
-- Name: pub1 t; Type: PUBLICATION TABLE; Schema: s1; Owner: postgres
--

ALTER PUBLICATION pub1 ADD TABLE ONLY s1.t WHERE ((id > 5));


--
-- Name: pub2 Mixed Case; Type: PUBLICATION TABLES IN SCHEMA; Schema: Mixed Case; Owner: postgres
--

ALTER PUBLICATION pub2 ADD TABLES IN SCHEMA "Mixed Case";


--
-- Name: sub1; Type: SUBSCRIPTION; Schema: -; Owner: postgres
--

CREATE SUBSCRIPTION sub1 CONNECTION 'host=nowhere dbname=x' PUBLICATION pub1 WITH (connect = false, slot_name = 'sub1', binary = true);


ALTER SUBSCRIPTION sub1 OWNER TO postgres;

--
-- Name: SUBSCRIPTION sub1; Type: COMMENT; Schema: -; Owner: postgres
--

COMMENT ON SUBSCRIPTION sub1 IS 'sub';


--
-- Name: SCHEMA public; Type: ACL; Schema: -; Owner: pg_database_owner
--

REVOKE USAGE ON SCHEMA public FROM PUBLIC;


--
-- Name: SCHEMA s1; Type: ACL; Schema: -; Owner: alice
--

GRANT USAGE ON SCHEMA s1 TO PUBLIC;
GRANT USAGE ON SCHEMA s1 TO bob;


--
-- Name: LANGUAGE plpgsql; Type: ACL; Schema: -; Owner: postgres
--

GRANT ALL ON LANGUAGE plpgsql TO bob;


--
-- Name: TYPE mood; Type: ACL; Schema: s1; Owner: postgres
--

GRANT ALL ON TYPE s1.mood TO bob;


--
-- Name: TYPE posint; Type: ACL; Schema: s1; Owner: postgres
--

GRANT ALL ON TYPE s1.posint TO bob;


--
-- Name: FUNCTION f_ret(a integer); Type: ACL; Schema: s1; Owner: alice
--

REVOKE ALL ON FUNCTION s1.f_ret(a integer) FROM PUBLIC;


--
-- Name: PROCEDURE p1(); Type: ACL; Schema: s1; Owner: postgres
--

GRANT ALL ON PROCEDURE s1.p1() TO bob;


--
-- Name: FOREIGN DATA WRAPPER mywrapper; Type: ACL; Schema: -; Owner: postgres
--

GRANT ALL ON FOREIGN DATA WRAPPER mywrapper TO bob;


--
-- Name: FOREIGN SERVER mysrv; Type: ACL; Schema: -; Owner: postgres
--

GRANT ALL ON FOREIGN SERVER mysrv TO bob;


--
-- Name: TABLE t; Type: ACL; Schema: s1; Owner: alice
--

GRANT SELECT,INSERT ON TABLE s1.t TO bob WITH GRANT OPTION;
SET SESSION AUTHORIZATION bob;
GRANT SELECT ON TABLE s1.t TO "Weird Role";
RESET SESSION AUTHORIZATION;


--
-- Name: COLUMN t.id; Type: ACL; Schema: s1; Owner: alice
--

GRANT UPDATE(id) ON TABLE s1.t TO "Weird Role";


--
-- Name: COLUMN t."Select"; Type: ACL; Schema: s1; Owner: alice
--

GRANT SELECT("Select") ON TABLE s1.t TO "Weird Role";


--
-- Name: TABLE ft; Type: ACL; Schema: s1; Owner: postgres
--

GRANT SELECT ON TABLE s1.ft TO bob;


--
-- Name: SEQUENCE seq; Type: ACL; Schema: s1; Owner: postgres
--

GRANT USAGE ON SEQUENCE s1.seq TO bob;


--
-- Name: LARGE OBJECT 424242; Type: ACL; Schema: -; Owner: alice
--

GRANT SELECT ON LARGE OBJECT 424242 TO bob;


--
-- Name: DEFAULT PRIVILEGES FOR TABLES; Type: DEFAULT ACL; Schema: s1; Owner: alice
--

ALTER DEFAULT PRIVILEGES FOR ROLE alice IN SCHEMA s1 GRANT SELECT ON TABLES  TO bob;


--
-- Name: DEFAULT PRIVILEGES FOR SEQUENCES; Type: DEFAULT ACL; Schema: -; Owner: alice
--

ALTER DEFAULT PRIVILEGES FOR ROLE alice GRANT USAGE ON SEQUENCES  TO bob;


--
-- Name: DEFAULT PRIVILEGES FOR TYPES; Type: DEFAULT ACL; Schema: -; Owner: alice
--

ALTER DEFAULT PRIVILEGES FOR ROLE alice GRANT ALL ON TYPES  TO bob;


--
-- Name: DEFAULT PRIVILEGES FOR FUNCTIONS; Type: DEFAULT ACL; Schema: -; Owner: alice
--

ALTER DEFAULT PRIVILEGES FOR ROLE alice REVOKE ALL ON FUNCTIONS  FROM PUBLIC;


--
-- Name: DEFAULT PRIVILEGES FOR SCHEMAS; Type: DEFAULT ACL; Schema: -; Owner: alice
--

ALTER DEFAULT PRIVILEGES FOR ROLE alice GRANT USAGE ON SCHEMAS  TO bob;


--
-- Name: evt1; Type: EVENT TRIGGER; Schema: -; Owner: postgres
--

CREATE EVENT TRIGGER evt1 ON ddl_command_start
         WHEN TAG IN ('CREATE TABLE')
   EXECUTE FUNCTION s1.evt();

ALTER EVENT TRIGGER evt1 DISABLE;


ALTER EVENT TRIGGER evt1 OWNER TO postgres;

--
-- Name: EVENT TRIGGER evt1; Type: COMMENT; Schema: -; Owner: postgres
--

COMMENT ON EVENT TRIGGER evt1 IS 'evt';


--
-- Name: mv; Type: MATERIALIZED VIEW DATA; Schema: s1; Owner: postgres
--

REFRESH MATERIALIZED VIEW s1.mv;


--
-- PostgreSQL database dump complete
--

\unrestrict b6y6zpqAfjRS6UovX8Pl6d8gKCnROMhmLcog0dzkgyM7P1oWdt2r0qLavbSbhVp

